//! A scripted, in-process [`Backend`] on a virtual [`Clock`], for the dispatcher's unit tests.
//!
//! Each attempt of each job has a [`Script`]: what its worker reports and when (stages,
//! outputs, its record, a crash, garbage), and how it takes SIGTERM. The [`World`] holds the
//! virtual time and everything due at a later time; the dispatcher's wait on its channel
//! jumps straight to the next thing due, so a run with deadlines and grace periods of seconds
//! takes microseconds and goes the same way every time.
//!
//! It behaves like the real backends where the dispatcher can tell: in [`Mode::Processes`] a
//! stopped or dead worker says nothing more and ends with `Closed` (its exit status from
//! `reap`); in [`Mode::Threads`] a stopped worker is abandoned and goes on speaking with its
//! old generation, and stages are kept in place (`current_stage`) rather than sent. It is
//! test-only and never touches a process, a thread or a socket.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use netsweep_protocol::{CommandOutput, DeviceRecord, DeviceTarget, Job, JobId, Outcome, Stage};

use super::{Clock, Dispatcher};
use crate::backend::{AssignError, Backend, ExitInfo, SlotBody, SlotMsg, Stopping};
use crate::{Cancel, CancelLevel, Executor, PoolConfig, PoolError, PoolEvent, RunStats};

/// Which real backend the fake stands in for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Stopping is `Pending` until the worker's `Closed`; stages are sent as messages.
    Processes,
    /// Stopping abandons the worker (`Gone`); stages are read in place.
    Threads,
}

/// Something a worker does.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Act {
    /// Enters a stage.
    Stage(Stage),
    /// Sends one command's output.
    Output(&'static str),
    /// Sends its record with this outcome.
    Finish(Outcome),
    /// Dies (a process exiting or killed; a thread panicking): `Closed` follows at once.
    Die(ExitInfo),
    /// Says something that is not the protocol.
    Garbage,
}

/// What the worker running one attempt does, step by step.
#[derive(Clone, Debug)]
pub(super) struct Script {
    /// Each step happens this long after the one before (the first, after the assignment).
    pub steps: Vec<(Duration, Act)>,
    /// How long after SIGTERM the worker dies of it; `None`: it ignores SIGTERM.
    pub on_term: Option<Duration>,
    /// The worker is dead before it takes the job (processes only): `assign` fails.
    pub refuse: bool,
    /// After this job, the worker exits when its input ends (processes only; `false`: it
    /// lingers until killed).
    pub exits_on_eof: bool,
}

impl Script {
    /// A worker that does nothing yet, and dies of SIGTERM at once.
    pub fn new() -> Self {
        Script {
            steps: Vec::new(),
            on_term: Some(Duration::ZERO),
            refuse: false,
            exits_on_eof: true,
        }
    }

    /// Adds a step `after_ms` after the previous one.
    pub fn then(mut self, after_ms: u64, act: Act) -> Self {
        self.steps.push((Duration::from_millis(after_ms), act));
        self
    }

    /// The worker ignores SIGTERM; only SIGKILL stops it.
    pub fn ignoring_sigterm(mut self) -> Self {
        self.on_term = None;
        self
    }

    /// After this job, the worker does not exit when its input ends; only SIGKILL stops it.
    pub fn ignoring_eof(mut self) -> Self {
        self.exits_on_eof = false;
        self
    }
}

/// What runs when no script is given: a device that is done in a millisecond.
fn default_script() -> Script {
    Script::new().then(1, Act::Finish(Outcome::Ok))
}

/// An exit by signal.
pub(super) fn signal(n: i32) -> ExitInfo {
    ExitInfo {
        signal: Some(n),
        exit_code: None,
    }
}

/// An exit with a code.
pub(super) fn exit_code(n: i32) -> ExitInfo {
    ExitInfo {
        signal: None,
        exit_code: Some(n),
    }
}

/// One worker the fake started, as the tests may check it afterwards. Its label is
/// `fake-N`, N its index in the order workers were started.
#[derive(Clone, Debug)]
pub(super) struct WorkerLog {
    pub slot: usize,
    pub generation: u64,
    /// It has ended (processes: died or was killed; threads: panicked).
    pub dead: bool,
    /// `reap` collected it.
    pub reaped: bool,
    /// `reap` was called while it was running and nothing was stopping it: the dispatcher
    /// collected the wrong worker.
    pub reaped_alive: bool,
    /// How it ended.
    pub exit: Option<ExitInfo>,
    /// How it takes SIGTERM and EOF, from the script of the job it was given last.
    on_term: Option<Duration>,
    exits_on_eof: bool,
    /// Threads: the stage cell (job, stage).
    stage: Option<(JobId, Stage)>,
}

/// Something due at a virtual time.
#[derive(Debug)]
enum Due {
    /// A message from a worker.
    Message(SlotMsg),
    /// A thread records its stage in place.
    Stage {
        worker: usize,
        job: JobId,
        stage: Stage,
    },
    /// A worker dies; `Closed` follows at once.
    Death { worker: usize, exit: ExitInfo },
    /// Someone presses Ctrl-C.
    Cancel(CancelLevel),
}

/// Longest virtual run before a test is declared stuck.
const RUNAWAY: Duration = Duration::from_secs(3600);
/// Waits that neither move the time nor deliver anything, in a row, before the dispatcher is
/// declared to be spinning.
const SPIN_LIMIT: u32 = 10_000;

/// The virtual time and everything the fake's workers will do.
pub(super) struct World {
    start: Instant,
    now: Instant,
    seq: u64,
    due: BTreeMap<(Instant, u64), (Option<usize>, Due)>,
    tx: Option<Sender<SlotMsg>>,
    cancel: Cancel,
    mode: Mode,
    scripts: HashMap<(JobId, u32), Script>,
    recycle_after: Option<usize>,
    /// Every worker started, in order; index = the worker's id.
    workers: Vec<WorkerLog>,
    /// The current worker of each slot, by id.
    current: Vec<Option<usize>>,
    /// Threads: the worker whose stage cell each slot shows (kept after the thread is
    /// collected, as `ThreadBackend` keeps it until the slot's next thread).
    cells: Vec<Option<usize>>,
    idle_waits: u32,
    /// How far each reading of the clock moves it on: a real clock is never read twice at
    /// the same instant.
    drift: Duration,
}

impl World {
    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn schedule(&mut self, at: Instant, owner: Option<usize>, due: Due) {
        self.seq += 1;
        self.due.insert((at, self.seq), (owner, due));
    }

    /// A message from worker `id`, `after` from now.
    fn say(&mut self, id: usize, at: Instant, body: SlotBody) {
        let w = &self.workers[id];
        let message = SlotMsg {
            slot: w.slot,
            generation: w.generation,
            body,
        };
        self.schedule(at, Some(id), Due::Message(message));
    }

    /// Worker `id` dies at `at` (`exit` its status): nothing it would have done after that
    /// happens. An earlier death already on the way stands.
    fn die_at(&mut self, id: usize, at: Instant, exit: ExitInfo) {
        let w = &self.workers[id];
        if w.dead {
            return;
        }
        let earlier_death = self.due.iter().any(|((t, _), (owner, due))| {
            *owner == Some(id) && *t <= at && matches!(due, Due::Death { .. })
        });
        if earlier_death {
            return;
        }
        self.due
            .retain(|(t, _), (owner, _)| *owner != Some(id) || *t < at);
        self.schedule(at, Some(id), Due::Death { worker: id, exit });
    }

    fn fire(&mut self, due: Due) {
        match due {
            Due::Message(message) => self.send(message),
            Due::Stage { worker, job, stage } => self.workers[worker].stage = Some((job, stage)),
            Due::Death { worker, exit } => {
                let w = &mut self.workers[worker];
                w.dead = true;
                w.exit = Some(exit);
                let closed = SlotMsg {
                    slot: w.slot,
                    generation: w.generation,
                    body: SlotBody::Closed,
                };
                self.send(closed);
            }
            Due::Cancel(level) => self.cancel.request(level),
        }
    }

    fn send(&self, message: SlotMsg) {
        let tx = self
            .tx
            .as_ref()
            .expect("a worker spoke before any was spawned");
        tx.send(message).expect("the run holds its receiver");
    }

    fn current(&self, slot: usize) -> Option<usize> {
        *self.current.get(slot)?
    }
}

/// The fake's two faces: the dispatcher's backend and its clock, over one shared world.
#[derive(Clone)]
pub(super) struct Fake(Rc<RefCell<World>>);

impl Fake {
    /// A world at virtual time zero, with no scripts (every device is done in 1 ms).
    pub fn new(mode: Mode) -> Self {
        let now = Instant::now();
        Fake(Rc::new(RefCell::new(World {
            start: now,
            now,
            seq: 0,
            due: BTreeMap::new(),
            tx: None,
            cancel: Cancel::new(),
            mode,
            scripts: HashMap::new(),
            recycle_after: None,
            workers: Vec::new(),
            current: Vec::new(),
            cells: Vec::new(),
            idle_waits: 0,
            drift: Duration::ZERO,
        })))
    }

    /// Every reading of the clock moves it on by `drift`.
    pub fn with_drift(self, drift: Duration) -> Self {
        self.0.borrow_mut().drift = drift;
        self
    }

    /// What the worker running attempt `attempt` of job `job` does.
    pub fn script(&self, job: JobId, attempt: u32, script: Script) -> &Self {
        self.0.borrow_mut().scripts.insert((job, attempt), script);
        self
    }

    /// Asks for `level` of cancellation at virtual time `at_ms`.
    pub fn cancel_at(&self, at_ms: u64, level: CancelLevel) -> &Self {
        let mut w = self.0.borrow_mut();
        let at = w.start + Duration::from_millis(at_ms);
        w.schedule(at, None, Due::Cancel(level));
        self
    }

    /// Workers ask to be replaced after `jobs` devices.
    pub fn recycle_after(&self, jobs: usize) -> &Self {
        self.0.borrow_mut().recycle_after = Some(jobs);
        self
    }

    /// Runs `jobs` through the real dispatcher with this fake as backend and clock.
    pub fn run(&self, config: PoolConfig, jobs: Vec<Job>) -> Ran {
        let cancel = self.0.borrow().cancel.clone();
        let mut dispatcher = Dispatcher::with_clock(config, self.clone(), self.clone());
        let mut events = Vec::new();
        let result = dispatcher.run(jobs, &cancel, &mut |event| {
            events.push((self.0.borrow().elapsed(), event));
        });
        let world = self.0.borrow();
        Ran {
            events,
            result,
            workers: world.workers.clone(),
            ended: world.elapsed(),
        }
    }
}

/// What a run through the fake produced.
pub(super) struct Ran {
    /// Every event, with the virtual time it was handed out at.
    pub events: Vec<(Duration, PoolEvent)>,
    pub result: Result<RunStats, PoolError>,
    /// Every worker the fake started.
    pub workers: Vec<WorkerLog>,
    /// Virtual time when the run returned.
    pub ended: Duration,
}

impl Ran {
    /// The run's statistics; panics if it failed.
    pub fn stats(&self) -> &RunStats {
        self.result.as_ref().expect("the run failed")
    }

    /// Every final record of `job`, with its virtual time.
    pub fn finished(&self, job: JobId) -> Vec<(Duration, &DeviceRecord)> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                PoolEvent::Finished { job: j, record } if *j == job => Some((*t, &**record)),
                _ => None,
            })
            .collect()
    }

    /// The one final record of `job`; panics unless there is exactly one.
    pub fn record(&self, job: JobId) -> &DeviceRecord {
        match self.finished(job)[..] {
            [(_, record)] => record,
            ref other => panic!("job {job}: {} final records: {other:#?}", other.len()),
        }
    }

    /// The jobs that were handed to a worker at least once.
    pub fn started(&self) -> Vec<JobId> {
        let mut started: Vec<JobId> = self
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                PoolEvent::Started { job, .. } => Some(*job),
                _ => None,
            })
            .collect();
        started.sort_unstable();
        started.dedup();
        started
    }
}

/// The name of the `id`th worker started.
pub(super) fn label(id: usize) -> String {
    format!("fake-{id}")
}

/// The message of a record a scripted worker sends: it names the attempt and the worker, so
/// a record handed out for another attempt or by another worker shows.
pub(super) fn scripted_message(outcome: Outcome, attempt: u32, worker: &str) -> String {
    format!("scripted {outcome} (attempt {attempt} on {worker})")
}

/// `count` jobs (ids 0…), each with `deadline_ms` as its device deadline.
pub(super) fn jobs(count: u64, deadline_ms: u64) -> Vec<Job> {
    (0..count)
        .map(|id| {
            let target = DeviceTarget {
                name: format!("d{id}"),
                host: "127.0.0.1".into(),
                port: 22,
                platform: "cisco_ios".into(),
                transport: Default::default(),
                username: "admin".into(),
                password: None,
                secret: None,
                key_file: None,
                groups: Vec::new(),
                ssh: Default::default(),
            };
            // No device is contacted: the known_hosts file is never read.
            let mut job = netsweep_testkit::job(target, &["show clock"], Path::new("/dev/null"));
            job.id = id;
            job.timeouts.deadline = Duration::from_millis(deadline_ms);
            job
        })
        .collect()
}

impl Clock for Fake {
    fn now(&self) -> Instant {
        let mut w = self.0.borrow_mut();
        let drift = w.drift;
        w.now += drift;
        w.now
    }

    fn recv_until(
        &mut self,
        rx: &Receiver<SlotMsg>,
        until: Instant,
    ) -> Result<SlotMsg, RecvTimeoutError> {
        if let Ok(message) = rx.try_recv() {
            return Ok(message);
        }
        let mut w = self.0.borrow_mut();
        let next = w.due.first_key_value().map(|((t, _), _)| *t);
        match next {
            Some(at) if at <= until => {
                // Everything due at that instant happens together, as a batch would arrive.
                w.now = w.now.max(at);
                w.idle_waits = 0;
                while let Some(entry) = w.due.first_entry() {
                    if entry.key().0 > at {
                        break;
                    }
                    let (_, due) = entry.remove();
                    w.fire(due);
                }
            }
            _ => {
                let before = w.now;
                w.now = w.now.max(until);
                if w.now == before {
                    w.idle_waits += 1;
                    assert!(
                        w.idle_waits < SPIN_LIMIT,
                        "the dispatcher is spinning: {SPIN_LIMIT} waits in a row at {:?} with nothing due",
                        w.elapsed()
                    );
                } else {
                    w.idle_waits = 0;
                }
            }
        }
        assert!(
            w.elapsed() < RUNAWAY,
            "the run did not end within {RUNAWAY:?}"
        );
        drop(w);
        rx.try_recv().map_err(|_| RecvTimeoutError::Timeout)
    }
}

impl Backend for Fake {
    fn spawn(
        &mut self,
        slot: usize,
        generation: u64,
        tx: &Sender<SlotMsg>,
    ) -> Result<(), PoolError> {
        let mut w = self.0.borrow_mut();
        if w.tx.is_none() {
            w.tx = Some(tx.clone());
        }
        let id = w.workers.len();
        w.workers.push(WorkerLog {
            slot,
            generation,
            dead: false,
            reaped: false,
            reaped_alive: false,
            exit: None,
            on_term: Some(Duration::ZERO),
            exits_on_eof: true,
            stage: None,
        });
        if w.current.len() <= slot {
            w.current.resize(slot + 1, None);
            w.cells.resize(slot + 1, None);
        }
        w.current[slot] = Some(id);
        w.cells[slot] = Some(id);
        Ok(())
    }

    fn assign(&mut self, slot: usize, job: &Job) -> Result<(), AssignError> {
        let mut w = self.0.borrow_mut();
        let Some(id) = w.current(slot) else {
            return Err(AssignError::NoWorker);
        };
        if w.workers[id].dead {
            return Err(match w.mode {
                Mode::Processes => AssignError::NoWorker,
                Mode::Threads => AssignError::ThreadEnded,
            });
        }
        let script = w
            .scripts
            .get(&(job.id, job.attempt))
            .cloned()
            .unwrap_or_else(default_script);
        let now = w.now;
        if script.refuse && w.mode == Mode::Processes {
            w.die_at(id, now, exit_code(1));
            return Err(AssignError::NoWorker);
        }
        w.workers[id].on_term = script.on_term;
        w.workers[id].exits_on_eof = script.exits_on_eof;
        let mut at = now;
        for (delay, act) in script.steps {
            at += delay;
            match act {
                Act::Stage(stage) if w.mode == Mode::Threads => {
                    let due = Due::Stage {
                        worker: id,
                        job: job.id,
                        stage,
                    };
                    w.schedule(at, Some(id), due);
                }
                Act::Stage(stage) => w.say(id, at, SlotBody::Stage(job.id, stage)),
                Act::Output(command) => {
                    let output = CommandOutput {
                        command: command.into(),
                        output: format!("{command} on {}", job.target.name),
                        ..CommandOutput::default()
                    };
                    w.say(id, at, SlotBody::Output(job.id, Box::new(output)));
                }
                Act::Finish(outcome) => {
                    let message = scripted_message(outcome, job.attempt, &label(id));
                    let record = DeviceRecord::from_target(&job.target, outcome, message);
                    w.say(id, at, SlotBody::Finished(job.id, Box::new(record)));
                }
                Act::Garbage => w.say(id, at, SlotBody::Garbage("scripted garbage".into())),
                Act::Die(exit) => {
                    w.die_at(id, at, exit);
                    break;
                }
            }
        }
        Ok(())
    }

    fn terminate(&mut self, slot: usize) -> Stopping {
        let mut w = self.0.borrow_mut();
        match w.mode {
            Mode::Threads => {
                // Abandoned: it runs on, speaking with a generation nobody listens to.
                w.current[slot] = None;
                Stopping::Gone
            }
            Mode::Processes => {
                if let Some(id) = w.current(slot)
                    && let Some(after) = w.workers[id].on_term
                {
                    let at = w.now + after;
                    w.die_at(id, at, signal(libc::SIGTERM));
                }
                Stopping::Pending
            }
        }
    }

    fn kill(&mut self, slot: usize) {
        let mut w = self.0.borrow_mut();
        match w.mode {
            Mode::Threads => w.current[slot] = None,
            Mode::Processes => {
                if let Some(id) = w.current(slot) {
                    let now = w.now;
                    w.die_at(id, now, signal(libc::SIGKILL));
                }
            }
        }
    }

    fn retire(&mut self, slot: usize) -> Stopping {
        let mut w = self.0.borrow_mut();
        let Some(id) = w.current(slot) else {
            return Stopping::Gone;
        };
        match w.mode {
            Mode::Threads => {
                w.current[slot] = None;
                Stopping::Gone
            }
            Mode::Processes => {
                // EOF on its stdin: it exits cleanly, now (or lingers, if so scripted).
                if w.workers[id].exits_on_eof {
                    let now = w.now;
                    w.die_at(id, now, exit_code(0));
                }
                Stopping::Pending
            }
        }
    }

    fn reap(&mut self, slot: usize) -> ExitInfo {
        let mut w = self.0.borrow_mut();
        let Some(id) = w.current(slot) else {
            return ExitInfo::default();
        };
        w.current[slot] = None;
        // A worker still running is waited for: it ends as its pending death says (a kill
        // just sent), or else by the kill a real backend sends after its grace. Whatever it
        // was about to do never comes.
        let now = w.now;
        let pending = w.due.iter().find_map(|((t, _), (owner, due))| match due {
            Due::Death { exit, .. } if *owner == Some(id) && *t <= now => Some(*exit),
            _ => None,
        });
        w.due.retain(|_, (owner, _)| *owner != Some(id));
        let mode = w.mode;
        let worker = &mut w.workers[id];
        worker.reaped = true;
        if !worker.dead {
            worker.dead = true;
            worker.reaped_alive = pending.is_none();
            worker.exit = Some(pending.unwrap_or(signal(libc::SIGKILL)));
        }
        match mode {
            Mode::Processes => worker.exit.unwrap_or_default(),
            Mode::Threads => ExitInfo::default(),
        }
    }

    fn label(&self, slot: usize) -> String {
        let w = self.0.borrow();
        match w.current(slot) {
            Some(id) => label(id),
            None => format!("fake-slot-{slot}"),
        }
    }

    fn wants_recycle(&self, jobs_done: usize) -> bool {
        self.0
            .borrow()
            .recycle_after
            .is_some_and(|n| jobs_done >= n)
    }

    fn current_stage(&self, slot: usize, job: JobId) -> Option<Stage> {
        let w = self.0.borrow();
        if w.mode != Mode::Threads {
            return None;
        }
        let (of, stage) = w.workers[(*w.cells.get(slot)?)?].stage?;
        (of == job).then_some(stage)
    }
}
