//! The dispatcher both pools share: queue, worker slots, deadlines, retries, cancellation.
//!
//! It owns every decision about a device's fate; a [`Backend`] only knows how to start, feed
//! and stop one kind of worker. Workers report through one channel of [`SlotMsg`]s, each
//! tagged with its slot and the slot's *generation*: when a worker is abandoned or replaced the
//! generation moves on, so anything its predecessor says late is recognised and ignored. That
//! is what guarantees exactly one final record per started device.
//!
//! Everything runs on the caller's thread (also the thread that spawns worker processes, which
//! matters for `PR_SET_PDEATHSIG`: it fires when the spawning *thread* exits).
//!
//! Time comes from a [`Clock`], the system's in production; the unit tests (`tests`, with the
//! scripted backend of `fake`) run the same code on a virtual clock, so deadlines, grace
//! periods and back-offs of seconds take no real time and every interleaving is reproducible.
//!
//! It also applies the sweep's [`SweepControls`]: the pace of new sessions (`rate`), the
//! per-group limit (`queue`), the canary that must pass before the rest start, and the
//! failure limit. A sweep that stops on one of those starts no new device; devices already
//! started finish (retries included), and the devices never started get no record, so a
//! resume continues exactly where it stopped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use netsweep_protocol::{AttemptSummary, CommandOutput, DeviceRecord, Job, JobId, Outcome, Stage};

use crate::backend::{Backend, SlotBody, SlotMsg, Stopping};
use crate::controls::{Canary, StopReason, SweepControls};
use crate::{Cancel, CancelLevel, Executor, PoolConfig, PoolError, PoolEvent, RunStats};

use self::queue::Queue;
use self::rate::RateGate;

#[cfg(test)]
mod fake;
mod queue;
mod rate;
#[cfg(test)]
mod tests;

/// Where the dispatcher reads the time and waits for its workers' messages.
pub(crate) trait Clock {
    /// The current time.
    fn now(&self) -> Instant;
    /// The next message on `rx`, waiting until `until` at most. It may return
    /// `Err(Timeout)` earlier (the caller looks at the time and its cancel token again).
    fn recv_until(
        &mut self,
        rx: &Receiver<SlotMsg>,
        until: Instant,
    ) -> Result<SlotMsg, RecvTimeoutError>;
}

/// The real time: `Instant::now` and a blocking `recv_timeout`. Zero-sized, and every call
/// inlines to what the dispatcher would do without a clock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn recv_until(
        &mut self,
        rx: &Receiver<SlotMsg>,
        until: Instant,
    ) -> Result<SlotMsg, RecvTimeoutError> {
        rx.recv_timeout(until.saturating_duration_since(Instant::now()))
    }
}

/// How a worker whose device's outcome is decided is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Force {
    /// SIGTERM now, SIGKILL after the kill grace (a deadline; a graceful stop running out).
    TermThenKill,
    /// SIGKILL now (a worker breaking the protocol; a second Ctrl-C).
    KillNow,
}

struct InFlight {
    job: Job,
    stage: Stage,
    started: Instant,
    deadline: Instant,
    outputs: Vec<CommandOutput>,
    worker: String,
}

enum SlotState {
    /// No worker (not yet spawned, or between a death and its replacement).
    Empty,
    Idle,
    Busy(InFlight),
    /// A stop was requested; the outcome is decided, waiting for the worker to go.
    Stopping {
        inflight: InFlight,
        outcome: Outcome,
        message: String,
        kill_at: Instant,
        killed: bool,
    },
    /// Told to exit after its last job; waiting for `Closed`. Killed at `kill_at` if it
    /// lingers (`None` once killed).
    Retiring {
        kill_at: Option<Instant>,
    },
}

struct Slot {
    generation: u64,
    jobs_done: usize,
    state: SlotState,
}

pub(crate) struct Dispatcher<B: Backend, C: Clock = SystemClock> {
    config: PoolConfig,
    backend: B,
    clock: C,
}

impl<B: Backend> Dispatcher<B> {
    pub(crate) fn new(config: PoolConfig, backend: B) -> Self {
        Dispatcher {
            config,
            backend,
            clock: SystemClock,
        }
    }
}

#[cfg(test)]
impl<B: Backend, C: Clock> Dispatcher<B, C> {
    pub(crate) fn with_clock(config: PoolConfig, backend: B, clock: C) -> Self {
        Dispatcher {
            config,
            backend,
            clock,
        }
    }
}

impl<B: Backend, C: Clock> Executor for Dispatcher<B, C> {
    fn run(
        &mut self,
        jobs: Vec<Job>,
        cancel: &Cancel,
        on_event: &mut dyn FnMut(PoolEvent),
    ) -> Result<RunStats, PoolError> {
        let plan = crate::parse::ParsePlan::of(&jobs);
        if !plan.is_empty() {
            self.backend.prepare_parse(&plan);
        }
        let (tx, rx) = mpsc::channel();
        let controls = &self.config.controls;
        let mut queue = Queue::new(controls.max_per_group, &jobs);
        let total = jobs.len();
        let (canaries, held) = split_canary(controls, jobs);
        let waiting: HashSet<JobId> = canaries.iter().map(|(_, job)| job.id).collect();
        for (index, job) in canaries {
            queue.push_first(index, job);
        }
        let canary = (!held.is_empty()).then(|| CanaryPhase::new(waiting, held));
        let mut run = Run {
            config: &self.config,
            backend: &mut self.backend,
            clock: &mut self.clock,
            tx,
            rx,
            slots: Vec::new(),
            queue,
            retries: BTreeMap::new(),
            retries_queued: 0,
            history: HashMap::new(),
            stats: RunStats::default(),
            cancel_deadline: None,
            total,
            rate: controls.connect_rate.map(|r| RateGate::new(r.interval())),
            paced_until: None,
            canary,
            failed: 0,
            failure_limit: controls.max_failures.map(|l| l.resolve(total)),
            stopped: None,
            dropped: Vec::new(),
            interrupted: false,
        };
        run.drive(cancel, on_event)
    }
}

/// The jobs that start first, and those held back until the canary has passed (none without
/// a canary, or when the canary is every job or none: there is then nothing to hold or to
/// test). Each with its place in the sweep's order.
type Numbered = Vec<(usize, Job)>;

fn split_canary(controls: &SweepControls, jobs: Vec<Job>) -> (Numbered, Numbered) {
    let numbered = jobs.into_iter().enumerate();
    let (canaries, held): (Numbered, Numbered) = match &controls.canary {
        None => (numbered.collect(), Vec::new()),
        Some(Canary::First(n)) => numbered.partition(|(index, _)| index < n),
        Some(Canary::Group(group)) => {
            numbered.partition(|(_, job)| job.target.groups.iter().any(|g| g == group))
        }
    };
    if canaries.is_empty() {
        return (held, Vec::new());
    }
    (canaries, held)
}

/// The canary while it runs: the devices that must all end `ok` before the others start.
struct CanaryPhase {
    /// Canary devices without a final record yet.
    waiting: HashSet<JobId>,
    canaries: usize,
    failed: usize,
    /// The other jobs, with their places in the sweep's order.
    held: Numbered,
}

impl CanaryPhase {
    fn new(waiting: HashSet<JobId>, held: Numbered) -> Self {
        CanaryPhase {
            canaries: waiting.len(),
            waiting,
            failed: 0,
            held,
        }
    }
}

/// State of one `run` call.
struct Run<'a, B: Backend, C: Clock> {
    config: &'a PoolConfig,
    backend: &'a mut B,
    clock: &'a mut C,
    tx: Sender<SlotMsg>,
    rx: Receiver<SlotMsg>,
    slots: Vec<Slot>,
    queue: Queue,
    /// Jobs waiting out their back-off, by due time, ties broken by `retries_queued` at the
    /// time (so two retries due at the same instant never share a key).
    retries: BTreeMap<(Instant, u64), Job>,
    retries_queued: u64,
    /// Earlier attempts of jobs being retried.
    history: HashMap<JobId, Vec<AttemptSummary>>,
    stats: RunStats,
    /// When a graceful stop turns into stopping in-flight devices.
    cancel_deadline: Option<Instant>,
    /// Jobs in the sweep.
    total: usize,
    rate: Option<RateGate>,
    /// When the connect rate next lets a session start, if the last `dispatch` stopped at
    /// the closed gate with a job and a worker waiting. Kept even once it has passed: the
    /// gate may have reopened between `dispatch` and `next_wakeup` (at a high rate it
    /// closes for microseconds), and the dispatcher must then not sleep until a message.
    paced_until: Option<Instant>,
    canary: Option<CanaryPhase>,
    /// Devices whose final record is a failure (not `ok`, not `cancelled`).
    failed: usize,
    failure_limit: Option<usize>,
    stopped: Option<StopReason>,
    /// Jobs a stop kept from ever starting.
    dropped: Vec<JobId>,
    /// Cancellation was asked for: the canary and the failure limit decide nothing more
    /// (nothing new starts anyway, and a cancelled canary did not fail).
    interrupted: bool,
}

/// How long the dispatcher sleeps at most, so that cancellation is noticed promptly.
const TICK: Duration = Duration::from_millis(50);

/// A device session stops itself at its deadline and reports `timed_out` with the stage and
/// the partial output it has; the dispatcher steps in this much later, by force, only for a
/// worker that could not (stuck in a system call, or gone wrong). Stopping a worker by force
/// costs a process and loses the partial output, so it must not race the session's own stop.
const DEADLINE_SLACK: Duration = Duration::from_secs(1);

/// How long a worker told to exit (end of input: recycled, or at the end of the run) has to
/// do so before it is killed. It needs about a millisecond; one that lingers must not hold
/// its slot, or the run, for ever.
const EXIT_WAIT: Duration = Duration::from_secs(2);

impl<B: Backend, C: Clock> Run<'_, B, C> {
    fn drive(
        &mut self,
        cancel: &Cancel,
        on_event: &mut dyn FnMut(PoolEvent),
    ) -> Result<RunStats, PoolError> {
        // Slots start empty: `dispatch` starts each worker as it hands it its first job, so
        // the first device starts at once rather than after every worker has been spawned.
        let wanted = self.config.workers.min(self.total.max(1));
        self.slots = (0..wanted)
            .map(|_| Slot {
                generation: 0,
                jobs_done: 0,
                state: SlotState::Empty,
            })
            .collect();

        loop {
            let level = cancel.level();
            self.apply_cancel(level, on_event);
            if level == CancelLevel::None {
                self.dispatch(on_event)?;
            }
            if self.all_quiet() && (level != CancelLevel::None || self.no_work_left()) {
                break;
            }
            let wake = self.next_wakeup(level);
            match self.clock.recv_until(&self.rx, wake) {
                Ok(msg) => {
                    self.handle(msg, on_event)?;
                    // Whatever else is already queued is handled in the same pass: a busy
                    // pool then scans its slots once per batch of messages, not per message.
                    while let Ok(msg) = self.rx.try_recv() {
                        self.handle(msg, on_event)?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => unreachable!("the run holds a sender"),
            }
            // `wake` is the earliest deadline (or one TICK away): before it, none can be due.
            if self.clock.now() >= wake {
                self.enforce_deadlines(on_event);
            }
        }

        self.shutdown_workers();
        self.stats.worker_peak_rss_kib = self.backend.peak_worker_rss_kib();
        let held = self.canary.take().map(|c| c.held).unwrap_or_default();
        let mut not_started: Vec<JobId> = self
            .queue
            .remove_where(|_| true)
            .into_iter()
            .chain(std::mem::take(&mut self.retries).into_values())
            .chain(held.into_iter().map(|(_, job)| job))
            .map(|j| j.id)
            .chain(self.dropped.drain(..))
            .collect();
        not_started.sort_unstable();
        self.stats.not_started = not_started;
        self.stats.stopped = self.stopped.take();
        Ok(std::mem::take(&mut self.stats))
    }

    fn spawn(&mut self, slot: usize) -> Result<(), PoolError> {
        let s = &mut self.slots[slot];
        s.generation += 1;
        s.jobs_done = 0;
        self.backend.spawn(slot, s.generation, &self.tx)?;
        s.state = SlotState::Idle;
        self.stats.workers_spawned += 1;
        Ok(())
    }

    fn no_work_left(&self) -> bool {
        self.queue.is_empty() && self.retries.is_empty() && self.canary.is_none()
    }

    /// True when no slot is running or stopping a device.
    fn all_quiet(&self) -> bool {
        self.slots.iter().all(|s| {
            matches!(
                s.state,
                SlotState::Idle | SlotState::Empty | SlotState::Retiring { .. }
            )
        })
    }

    /// Hands startable jobs to idle workers (starting workers for empty slots), as the
    /// connect rate and the group limit allow.
    fn dispatch(&mut self, on_event: &mut dyn FnMut(PoolEvent)) -> Result<(), PoolError> {
        let now = self.clock.now();
        self.paced_until = None;
        while let Some(entry) = self.retries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let job = entry.remove();
            self.queue.push_retry(job);
        }
        for slot in 0..self.slots.len() {
            if !self.queue.might_start() {
                break;
            }
            if !matches!(self.slots[slot].state, SlotState::Empty | SlotState::Idle) {
                continue;
            }
            if let Some(open) = self.rate.as_ref().and_then(|r| r.closed_until(now)) {
                self.paced_until = Some(open);
                break;
            }
            let Some(job) = self.queue.pop_startable() else {
                break;
            };
            if matches!(self.slots[slot].state, SlotState::Empty) {
                self.spawn(slot)?;
            }
            if let Some(rate) = &mut self.rate {
                rate.take(now);
            }
            let worker = self.backend.label(slot);
            let started = self.clock.now();
            let inflight = InFlight {
                stage: Stage::Queued,
                started,
                deadline: started + job.timeouts.deadline + DEADLINE_SLACK,
                outputs: Vec::new(),
                worker: worker.clone(),
                job,
            };
            on_event(PoolEvent::Started {
                job: inflight.job.id,
                device: inflight.job.target.name.clone(),
                address: inflight.job.target.address(),
                worker,
                attempt: inflight.job.attempt,
            });
            let assigned = self.backend.assign(slot, &inflight.job);
            self.slots[slot].state = SlotState::Busy(inflight);
            if let Err(e) = assigned {
                // The worker died before it could take the job: its `Closed` is on the way
                // and will classify the device as `worker_crashed`.
                tracing::debug!(slot, "worker refused a job ({e}); waiting for its exit");
            }
        }
        Ok(())
    }

    /// When something may next need doing without a message to say so. Only times that are
    /// still to act on count: one already acted on stays in the past, and waiting until it
    /// would spin the dispatcher until the next message.
    fn next_wakeup(&self, level: CancelLevel) -> Instant {
        let now = self.clock.now();
        let mut next = now + TICK;
        for s in &self.slots {
            match &s.state {
                SlotState::Busy(f) => next = next.min(f.deadline),
                SlotState::Stopping {
                    kill_at,
                    killed: false,
                    ..
                }
                | SlotState::Retiring {
                    kill_at: Some(kill_at),
                } => next = next.min(*kill_at),
                _ => {}
            }
        }
        // A stopped run dispatches nothing, so its retries are no longer due.
        if level == CancelLevel::None
            && let Some((due, _)) = self.retries.keys().next()
        {
            next = next.min(*due);
        }
        // The next session may start then: `dispatch` stopped at the gate with one to start.
        if level == CancelLevel::None
            && let Some(open) = self.paced_until
        {
            next = next.min(open);
        }
        // Once passed, the cancel deadline has done its work: nothing is left to stop.
        if let Some(d) = self.cancel_deadline
            && d > now
        {
            next = next.min(d);
        }
        next
    }

    fn handle(
        &mut self,
        msg: SlotMsg,
        on_event: &mut dyn FnMut(PoolEvent),
    ) -> Result<(), PoolError> {
        let Some(slot) = self.slots.get_mut(msg.slot) else {
            return Ok(());
        };
        if slot.generation != msg.generation {
            // A replaced or abandoned worker speaking late: its device is already decided.
            return Ok(());
        }
        match msg.body {
            SlotBody::Stage(job, stage) => {
                if let SlotState::Busy(f) = &mut slot.state
                    && f.job.id == job
                {
                    f.stage = stage;
                }
            }
            SlotBody::Output(job, output) => match &mut slot.state {
                SlotState::Busy(f) | SlotState::Stopping { inflight: f, .. } if f.job.id == job => {
                    f.outputs.push(*output)
                }
                _ => {}
            },
            SlotBody::Finished(job, record) => {
                if let SlotState::Busy(f) = &slot.state
                    && f.job.id == job
                {
                    let SlotState::Busy(f) = std::mem::replace(&mut slot.state, SlotState::Idle)
                    else {
                        unreachable!()
                    };
                    slot.jobs_done += 1;
                    let recycle = self.backend.wants_recycle(slot.jobs_done);
                    self.finalize(f, *record, on_event);
                    if recycle {
                        self.retire(msg.slot);
                    }
                }
            }
            SlotBody::Garbage(what) => {
                tracing::warn!(worker = %self.backend.label(msg.slot), "protocol error: {what}");
                let message =
                    format!("the worker broke the frame protocol ({what}); it was killed");
                let outcome = Outcome::ProtocolError;
                self.stop_slot(msg.slot, outcome, message, Force::KillNow, on_event);
            }
            SlotBody::Closed => self.on_closed(msg.slot, on_event)?,
        }
        Ok(())
    }

    /// A worker's stream ended: reap it, settle its device, and replace it if work remains.
    fn on_closed(
        &mut self,
        slot: usize,
        on_event: &mut dyn FnMut(PoolEvent),
    ) -> Result<(), PoolError> {
        let exit = self.backend.reap(slot);
        let state = std::mem::replace(&mut self.slots[slot].state, SlotState::Empty);
        self.slots[slot].generation += 1;
        match state {
            SlotState::Busy(mut f) => {
                self.stats.workers_lost += 1;
                if let Some(stage) = self.backend.current_stage(slot, f.job.id) {
                    f.stage = stage;
                }
                let outcome = Outcome::WorkerCrashed {
                    stage: f.stage,
                    signal: exit.signal,
                    exit_code: exit.exit_code,
                };
                let how = match (exit.signal, exit.exit_code) {
                    (Some(sig), _) => format!("was killed by signal {sig}"),
                    (None, Some(code)) => format!("exited with code {code}"),
                    (None, None) => "vanished".to_string(),
                };
                let message = format!("worker {} {how} during the {} stage", f.worker, f.stage);
                let record = self.synthetic_record(&f, outcome, message);
                self.finalize(f, record, on_event);
            }
            SlotState::Stopping {
                inflight,
                outcome,
                message,
                ..
            } => {
                self.stats.workers_lost += 1;
                let record = self.synthetic_record(&inflight, outcome, message);
                self.finalize(inflight, record, on_event);
            }
            SlotState::Idle => {
                tracing::warn!(
                    worker = %self.backend.label(slot),
                    "idle worker exited (signal {:?}, code {:?}); replacing it",
                    exit.signal,
                    exit.exit_code
                );
            }
            SlotState::Retiring { .. } | SlotState::Empty => {}
        }
        Ok(())
    }

    fn retire(&mut self, slot: usize) {
        self.slots[slot].state = match self.backend.retire(slot) {
            Stopping::Gone => {
                self.slots[slot].generation += 1;
                SlotState::Empty
            }
            Stopping::Pending => SlotState::Retiring {
                kill_at: Some(self.clock.now() + EXIT_WAIT),
            },
        };
    }

    /// Starts stopping the device in `slot` with a decided outcome.
    fn stop_slot(
        &mut self,
        slot: usize,
        outcome: Outcome,
        message: String,
        force: Force,
        on_event: &mut dyn FnMut(PoolEvent),
    ) {
        let state = std::mem::replace(&mut self.slots[slot].state, SlotState::Empty);
        let inflight = match state {
            SlotState::Busy(f) => f,
            SlotState::Stopping { inflight, .. } => inflight,
            other => {
                // Nothing in flight (a garbage-talking idle worker): just get rid of it.
                self.slots[slot].state = other;
                self.backend.kill(slot);
                return;
            }
        };
        let killed = force == Force::KillNow;
        if killed {
            self.backend.kill(slot);
        }
        match self.backend.terminate(slot) {
            Stopping::Gone => {
                self.slots[slot].generation += 1;
                self.stats.workers_lost += 1;
                let record = self.synthetic_record(&inflight, outcome, message);
                self.finalize(inflight, record, on_event);
            }
            Stopping::Pending => {
                self.slots[slot].state = SlotState::Stopping {
                    inflight,
                    outcome,
                    message,
                    kill_at: self.clock.now() + self.config.kill_grace,
                    killed,
                };
            }
        }
    }

    fn enforce_deadlines(&mut self, on_event: &mut dyn FnMut(PoolEvent)) {
        let now = self.clock.now();
        for slot in 0..self.slots.len() {
            match &mut self.slots[slot].state {
                SlotState::Busy(f) if f.deadline <= now => {
                    let stage = self
                        .backend
                        .current_stage(slot, f.job.id)
                        .unwrap_or(f.stage);
                    let message = format!(
                        "no result within the {:?} device deadline; stopped during the {stage} stage",
                        f.job.timeouts.deadline
                    );
                    let outcome = Outcome::TimedOut { stage };
                    self.stop_slot(slot, outcome, message, Force::TermThenKill, on_event);
                }
                SlotState::Stopping {
                    kill_at, killed, ..
                } if *kill_at <= now && !*killed => {
                    *killed = true;
                    self.backend.kill(slot);
                }
                SlotState::Retiring { kill_at } if kill_at.is_some_and(|at| at <= now) => {
                    *kill_at = None;
                    tracing::warn!(
                        worker = %self.backend.label(slot),
                        "worker did not exit within {EXIT_WAIT:?} of its end of input; killing it"
                    );
                    self.backend.kill(slot);
                }
                _ => {}
            }
        }
    }

    fn apply_cancel(&mut self, level: CancelLevel, on_event: &mut dyn FnMut(PoolEvent)) {
        let now = self.clock.now();
        if level != CancelLevel::None {
            self.interrupted = true;
        }
        let force = match level {
            CancelLevel::None => return,
            CancelLevel::Graceful => {
                let deadline = *self
                    .cancel_deadline
                    .get_or_insert(now + self.config.cancel_grace);
                if deadline > now {
                    return;
                }
                Force::TermThenKill
            }
            CancelLevel::Immediate => Force::KillNow,
        };
        for slot in 0..self.slots.len() {
            let busy = matches!(self.slots[slot].state, SlotState::Busy(_));
            let stopping_unkilled = matches!(
                self.slots[slot].state,
                SlotState::Stopping { killed: false, .. }
            );
            if busy {
                let message = "the sweep was interrupted before this device finished".to_string();
                self.stop_slot(slot, Outcome::Cancelled, message, force, on_event);
            } else if stopping_unkilled && force == Force::KillNow {
                if let SlotState::Stopping { killed, .. } = &mut self.slots[slot].state {
                    *killed = true;
                }
                self.backend.kill(slot);
            }
        }
    }

    /// Settles an attempt: retry it, or hand out its final record.
    fn finalize(
        &mut self,
        f: InFlight,
        mut record: DeviceRecord,
        on_event: &mut dyn FnMut(PoolEvent),
    ) {
        let InFlight {
            job,
            outputs,
            worker,
            ..
        } = f;
        self.queue.ended(job.id);
        if record.outputs.is_empty() {
            record.outputs = outputs;
        }
        record.worker = worker;
        record.attempt = job.attempt;
        let retry = record.outcome.is_transient() && job.attempt <= self.config.retries;
        if retry && self.cancel_deadline.is_none() {
            let failed = AttemptSummary {
                attempt: job.attempt,
                outcome: record.outcome,
                message: record.message.clone(),
                worker: record.worker.clone(),
            };
            self.history.entry(job.id).or_default().push(failed.clone());
            let delay = self.config.backoff.delay(job.attempt);
            on_event(PoolEvent::Retrying {
                job: job.id,
                device: job.target.name.clone(),
                failed,
                delay,
            });
            let mut next = job;
            next.attempt += 1;
            self.retries_queued += 1;
            let key = (self.clock.now() + delay, self.retries_queued);
            self.retries.insert(key, next);
            return;
        }
        record.previous_attempts = self.history.remove(&job.id).unwrap_or_default();
        self.stats.finished += 1;
        let outcome = record.outcome;
        on_event(PoolEvent::Finished {
            job: job.id,
            record: Box::new(record),
        });
        self.apply_controls(job.id, outcome, on_event);
    }

    /// After a device's final record: counts a failure, settles the canary, and stops the
    /// sweep when the canary failed or the failure limit is reached.
    fn apply_controls(
        &mut self,
        job: JobId,
        outcome: Outcome,
        on_event: &mut dyn FnMut(PoolEvent),
    ) {
        // A cancelled device did not fail; the sweep was interrupted.
        let failed = !outcome.is_ok() && outcome != Outcome::Cancelled;
        if failed {
            self.failed += 1;
        }
        if self.interrupted {
            return;
        }
        if let Some(phase) = &mut self.canary
            && phase.waiting.remove(&job)
        {
            if failed {
                phase.failed += 1;
            }
            if phase.waiting.is_empty() {
                let (canaries, failed_canaries) = (phase.canaries, phase.failed);
                if failed_canaries == 0 {
                    let phase = self.canary.take().expect("checked above");
                    for (index, job) in phase.held {
                        self.queue.push_first(index, job);
                    }
                    on_event(PoolEvent::CanaryPassed { devices: canaries });
                } else {
                    let reason = StopReason::CanaryFailed {
                        failed: failed_canaries,
                        canaries,
                    };
                    self.stop(reason, on_event);
                }
            }
        }
        if let Some(limit) = self.failure_limit
            && failed
            && self.failed >= limit
            && self.stopped.is_none()
        {
            let reason = StopReason::TooManyFailures {
                failed: self.failed,
                limit,
            };
            self.stop(reason, on_event);
        }
    }

    /// Starts no new device from now on: devices waiting for their first attempt (and those
    /// held for the canary) never start and get no record. Started devices finish, retries
    /// included. A limit reached when nothing is left to start stops nothing.
    fn stop(&mut self, reason: StopReason, on_event: &mut dyn FnMut(PoolEvent)) {
        let mut never: Vec<JobId> = self
            .queue
            .remove_where(|job| job.attempt == 1)
            .iter()
            .map(|job| job.id)
            .collect();
        if let Some(phase) = self.canary.take() {
            never.extend(phase.held.iter().map(|(_, job)| job.id));
        }
        if never.is_empty() {
            return;
        }
        self.dropped.extend(never);
        self.stopped = Some(reason.clone());
        on_event(PoolEvent::Stopped { reason });
    }

    /// Ends every worker at the end of a run, without leaving a process or zombie behind.
    fn shutdown_workers(&mut self) {
        for slot in 0..self.slots.len() {
            if matches!(self.slots[slot].state, SlotState::Idle) {
                self.retire(slot);
            }
        }
        let deadline = self.clock.now() + EXIT_WAIT;
        while self.slots.iter().any(|s| {
            matches!(
                s.state,
                SlotState::Retiring { .. } | SlotState::Stopping { .. }
            )
        }) {
            if self.clock.now() >= deadline {
                break;
            }
            match self.clock.recv_until(&self.rx, deadline) {
                Ok(SlotMsg {
                    slot,
                    generation,
                    body: SlotBody::Closed,
                }) if self.slots[slot].generation == generation => {
                    self.backend.reap(slot);
                    self.slots[slot].state = SlotState::Empty;
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => unreachable!("the run holds a sender"),
            }
        }
        for slot in 0..self.slots.len() {
            if !matches!(self.slots[slot].state, SlotState::Empty) {
                // A worker that did not exit on EOF in time: kill and reap it.
                self.backend.kill(slot);
                self.backend.reap(slot);
                self.slots[slot].state = SlotState::Empty;
            }
        }
        self.backend.shutdown();
    }

    /// A record for a device whose worker could not produce one (crash, deadline,
    /// cancellation).
    fn synthetic_record(&self, f: &InFlight, outcome: Outcome, message: String) -> DeviceRecord {
        let mut record = DeviceRecord::from_target(&f.job.target, outcome, message);
        let elapsed = self.clock.now().saturating_duration_since(f.started);
        record.timings.total_ms = elapsed.as_secs_f64() * 1000.0;
        record
    }
}
