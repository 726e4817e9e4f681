//! The process pool's workers: `netsweep-worker` children fed jobs as frames on stdin.
//!
//! Pipes are std's `Stdio::piped()`. Their coordinator-side ends are created close-on-exec, so
//! a worker spawned later never inherits an earlier worker's pipe: a worker's EOF reaches us
//! the moment it dies, not when some unrelated sibling exits. (The `interprocess` crate's
//! unnamed pipes are created inheritable, which delays that EOF; it would earn its place only
//! for named endpoints, which netsweep does not need.)
//!
//! Each worker runs in its own process group (signals reach anything it might start) and arms
//! `PR_SET_PDEATHSIG = SIGKILL` itself as it starts, so a coordinator that is itself killed
//! leaves no worker behind. Credentials never appear in a worker's argv or environment: the environment is
//! cleared down to an allow-list, and jobs travel only as frames.
//!
//! Workers are forked from a fork server by default (see `crate::fork_server` for why and how),
//! or exec'd one by one ([`WorkerStart::Exec`]); past that point both are handled alike.
//!
//! Per worker, two reader threads drain stdout (frames) and stderr (log lines) until EOF, so a
//! chatty worker can never block on a full pipe while the dispatcher waits on it.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::thread;
use std::time::Duration;

use netsweep_protocol::frame::{CoordinatorMessage, WorkerMessage, read_frame, write_frame};
use netsweep_protocol::{Job, PROTOCOL_VERSION, error_chain};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::backend::{AssignError, Backend, ExitInfo, SlotBody, SlotMsg, Stopping};
use crate::fork_server::{ExitBoard, ForkServer};
use crate::reap::{AFTER_KILL, poll_child, wait_or_kill};
use crate::{PoolError, WorkerStart};

/// Where a worker learns its coordinator's pid (not a secret: `ps` shows it too).
pub(crate) const COORDINATOR_PID_ENV: &str = "NETSWEEP_COORDINATOR_PID";

/// Environment variables a worker may inherit. Nothing else crosses, so a password exported
/// for `password: ${ROUTER_PW}` in the inventory never reaches a worker's environment.
const ENV_ALLOW: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "SSH_AUTH_SOCK",
    "NETSWEEP_LOG",
    "RUST_BACKTRACE",
];

/// Reader threads only shuffle bytes; they need little stack, and a pool of a thousand workers
/// has two thousand of them.
const READER_STACK: usize = 128 * 1024;

/// A worker whose stdout closed is normally exiting right now; this is how long it has before
/// it is killed.
const EXIT_GRACE: Duration = Duration::from_millis(200);

struct Worker {
    process: WorkerProcess,
    pid: u32,
    stdin: Option<BufWriter<File>>,
    label: String,
}

/// Who reaps the worker, and so where its exit status comes from.
enum WorkerProcess {
    /// Exec'd by us: our child.
    Exec(Child),
    /// Forked by the fork server: its child, reported on its board.
    Forked(Arc<ExitBoard>),
}

impl Worker {
    fn pgid(&self) -> Pid {
        // Each worker leads a process group named after its pid.
        Pid::from_raw(self.pid as i32)
    }
}

pub(crate) struct ProcessBackend {
    /// Highest VmHWM seen in any worker, KiB (sampled after each device it finishes).
    peak_rss_kib: Arc<AtomicU64>,
    worker_path: PathBuf,
    worker_args: Vec<OsString>,
    max_devices_per_worker: Option<usize>,
    start: WorkerStart,
    /// Started with the first worker; replaced if it dies.
    fork_server: Option<ForkServer>,
    /// The known_hosts file of the latest job, for the fork server to read before it forks.
    known_hosts: Option<PathBuf>,
    /// What the sweep will parse, for each fork server to compile before it forks.
    parse_plan: Option<crate::parse::ParsePlan>,
    workers: Vec<Option<Worker>>,
}

impl ProcessBackend {
    pub(crate) fn new(
        worker_path: PathBuf,
        worker_args: Vec<OsString>,
        max_devices_per_worker: Option<usize>,
        start: WorkerStart,
    ) -> Self {
        ProcessBackend {
            peak_rss_kib: Arc::default(),
            worker_path,
            worker_args,
            max_devices_per_worker,
            start,
            fork_server: None,
            known_hosts: None,
            parse_plan: None,
            workers: Vec::new(),
        }
    }

    fn signal(&self, slot: usize, signal: Signal) {
        if let Some(w) = &self.workers[slot] {
            // ESRCH: already gone, which is what we wanted.
            let _ = killpg(w.pgid(), signal);
        }
    }

    /// The worker binary with its arguments and an environment cleared to the allow-list.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.worker_path);
        cmd.args(&self.worker_args)
            .env_clear()
            .envs(
                ENV_ALLOW
                    .iter()
                    .filter_map(|k| Some((k, std::env::var_os(k)?))),
            )
            .process_group(0);
        // Told so that the worker can arm its own parent-death signal (see `crate::worker`):
        // a `pre_exec` hook here would force a full fork() of the coordinator instead of
        // posix_spawn, copying its page tables for every worker (measured: ~10 ms of CPU per
        // worker at 20,000 devices, against ~2 ms).
        cmd.env(COORDINATOR_PID_ENV, std::process::id().to_string());
        cmd
    }

    /// Execs a fresh worker binary.
    fn exec(&self) -> Result<(WorkerProcess, u32, [File; 3]), PoolError> {
        let mut cmd = self.command();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| PoolError::SpawnWorker {
            path: self.worker_path.clone(),
            source,
        })?;
        let pipe = |fd: Option<OwnedFd>| File::from(fd.expect("stdio is piped"));
        let stdio = [
            pipe(child.stdin.take().map(OwnedFd::from)),
            pipe(child.stdout.take().map(OwnedFd::from)),
            pipe(child.stderr.take().map(OwnedFd::from)),
        ];
        let pid = child.id();
        Ok((WorkerProcess::Exec(child), pid, stdio))
    }

    /// Forks a worker from the fork server, starting (or restarting) the server first if
    /// needed. A server that dies (killed from outside, say) is replaced: up to three tries.
    fn fork(&mut self) -> Result<(WorkerProcess, u32, [File; 3]), PoolError> {
        let path = self.worker_path.clone();
        let failed = |source| PoolError::ForkServer {
            path: path.clone(),
            source,
        };
        for _ in 0..3 {
            if self.fork_server.as_ref().is_some_and(|s| !s.is_alive()) {
                tracing::warn!("the fork server has stopped; starting a new one");
                self.fork_server = None;
            }
            let server = match &self.fork_server {
                Some(server) => server,
                None => match ForkServer::start(self.command(), |stderr| {
                    forward_logs(stderr, "fork-server")
                }) {
                    Ok(server) => {
                        if let Some(plan) = &self.parse_plan {
                            server.prepare_parse(plan);
                        }
                        self.fork_server.insert(server)
                    }
                    Err(crate::ForkServerError::Gone) => continue,
                    Err(e) => return Err(failed(e)),
                },
            };
            match server.spawn(self.known_hosts.as_deref()) {
                Ok(w) => {
                    let process = WorkerProcess::Forked(server.exits());
                    return Ok((process, w.pid, [w.stdin, w.stdout, w.stderr]));
                }
                Err(crate::ForkServerError::Gone) => self.fork_server = None,
                Err(e) => return Err(failed(e)),
            }
        }
        Err(failed(crate::ForkServerError::Gone))
    }
}

impl Backend for ProcessBackend {
    fn spawn(
        &mut self,
        slot: usize,
        generation: u64,
        tx: &Sender<SlotMsg>,
    ) -> Result<(), PoolError> {
        let (process, pid, [stdin, stdout, stderr]) = match self.start {
            WorkerStart::ForkServer => self.fork()?,
            WorkerStart::Exec => self.exec()?,
        };
        let label = format!("worker-{slot}[pid {pid}]");
        let mut stdin = BufWriter::new(stdin);

        let frames_tx = tx.clone();
        let peak = Arc::clone(&self.peak_rss_kib);
        thread::Builder::new()
            .name(format!("netsweep-frames-{slot}"))
            .stack_size(READER_STACK)
            .spawn(move || {
                read_frames(stdout, slot, generation, &frames_tx, &|| {
                    if let Some(kib) = peak_rss_kib(pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                })
            })
            .map_err(PoolError::SpawnThread)?;
        let log_label = label.clone();
        thread::Builder::new()
            .name(format!("netsweep-stderr-{slot}"))
            .stack_size(READER_STACK)
            .spawn(move || forward_logs(stderr, &log_label))
            .map_err(PoolError::SpawnThread)?;

        // A worker that dies before reading this is noticed through its closed stdout.
        let _ = write_frame(
            &mut stdin,
            &CoordinatorMessage::Hello {
                protocol_version: PROTOCOL_VERSION,
            },
        );
        if self.workers.len() <= slot {
            self.workers.resize_with(slot + 1, || None);
        }
        self.workers[slot] = Some(Worker {
            process,
            pid,
            stdin: Some(stdin),
            label,
        });
        Ok(())
    }

    fn assign(&mut self, slot: usize, job: &Job) -> Result<(), AssignError> {
        let Some(Worker {
            stdin: Some(stdin), ..
        }) = &mut self.workers[slot]
        else {
            return Err(AssignError::NoWorker);
        };
        self.known_hosts.clone_from(&job.known_hosts);
        let message = CoordinatorMessage::Run {
            job: Box::new(job.clone()),
        };
        write_frame(stdin, &message).map_err(AssignError::Write)
    }

    fn terminate(&mut self, slot: usize) -> Stopping {
        self.signal(slot, Signal::SIGTERM);
        Stopping::Pending
    }

    fn kill(&mut self, slot: usize) {
        self.signal(slot, Signal::SIGKILL);
    }

    fn retire(&mut self, slot: usize) -> Stopping {
        match &mut self.workers[slot] {
            Some(w) => {
                // EOF on its stdin is the worker's cue to exit.
                w.stdin = None;
                Stopping::Pending
            }
            None => Stopping::Gone,
        }
    }

    fn reap(&mut self, slot: usize) -> ExitInfo {
        let Some(mut w) = self.workers[slot].take() else {
            return ExitInfo::default();
        };
        w.stdin = None;
        // A worker that closed stdout but lingers is killed, never left running.
        let group = w.pgid();
        let status = match &mut w.process {
            WorkerProcess::Exec(child) => {
                wait_or_kill(group, EXIT_GRACE, AFTER_KILL, poll_child(child, &w.label)).map(|s| {
                    ExitInfo {
                        signal: s.signal(),
                        exit_code: s.code(),
                    }
                })
            }
            WorkerProcess::Forked(exits) => {
                wait_or_kill(group, EXIT_GRACE, AFTER_KILL, |t| exits.wait(w.pid, t))
            }
        };
        // Anything the worker may have left in its group goes with it.
        let _ = killpg(group, Signal::SIGKILL);
        status.unwrap_or_default()
    }

    fn label(&self, slot: usize) -> String {
        self.workers
            .get(slot)
            .and_then(|w| w.as_ref())
            .map(|w| w.label.clone())
            .unwrap_or_else(|| format!("worker-{slot}"))
    }

    fn wants_recycle(&self, jobs_done: usize) -> bool {
        self.max_devices_per_worker
            .is_some_and(|max| jobs_done >= max)
    }

    fn peak_worker_rss_kib(&self) -> u64 {
        self.peak_rss_kib.load(Ordering::Relaxed)
    }

    fn prepare_parse(&mut self, plan: &crate::parse::ParsePlan) {
        if let Some(server) = &self.fork_server {
            server.prepare_parse(plan);
        }
        self.parse_plan = Some(plan.clone());
    }

    fn shutdown(&mut self) {
        // Its drop closes its socket and reaps it.
        self.fork_server = None;
    }
}

/// A live process's peak resident set (`VmHWM`), KiB. `getrusage` cannot give a worker's:
/// it counts the coordinator's pages the child held between fork and exec.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Turns the worker's stdout into slot messages until EOF.
fn read_frames(
    stdout: impl Read,
    slot: usize,
    generation: u64,
    tx: &Sender<SlotMsg>,
    after_device: &dyn Fn(),
) {
    let send = |body| {
        let _ = tx.send(SlotMsg {
            slot,
            generation,
            body,
        });
    };
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut greeted = false;
    loop {
        match read_frame::<_, WorkerMessage>(&mut reader) {
            Ok(None) => break,
            Ok(Some(WorkerMessage::Ready {
                protocol_version, ..
            })) if !greeted => {
                greeted = true;
                if protocol_version != PROTOCOL_VERSION {
                    send(SlotBody::Garbage(format!(
                        "worker speaks protocol version {protocol_version}, the coordinator {PROTOCOL_VERSION}; \
                         netsweep and netsweep-worker come from different builds"
                    )));
                    break;
                }
            }
            Ok(Some(_)) if !greeted => {
                send(SlotBody::Garbage(
                    "worker did not start with a ready frame".into(),
                ));
                break;
            }
            Ok(Some(WorkerMessage::Ready { .. })) => {
                send(SlotBody::Garbage("worker sent a second ready frame".into()));
                break;
            }
            Ok(Some(WorkerMessage::Stage { job, stage })) => send(SlotBody::Stage(job, stage)),
            Ok(Some(WorkerMessage::Output { job, output })) => send(SlotBody::Output(job, output)),
            Ok(Some(WorkerMessage::Finished { job, record })) => {
                after_device();
                send(SlotBody::Finished(job, record))
            }
            Err(e) => {
                send(SlotBody::Garbage(error_chain(&e)));
                break;
            }
        }
    }
    // Drain whatever follows a protocol error so the worker never blocks on a full pipe
    // before it is killed; then report the end of the stream.
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
    send(SlotBody::Closed);
}

/// Re-logs a worker's stderr lines under the worker's name, at the level the worker gave.
fn forward_logs(stderr: impl Read, label: &str) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        // tracing pads levels to five columns (` INFO`), hence the trim.
        let (level, text) = line.trim_start().split_once(' ').unwrap_or(("", &line));
        match level {
            "ERROR" => tracing::error!(target: "netsweep::worker", worker = label, "{text}"),
            "WARN" => tracing::warn!(target: "netsweep::worker", worker = label, "{text}"),
            "DEBUG" => tracing::debug!(target: "netsweep::worker", worker = label, "{text}"),
            "TRACE" => tracing::trace!(target: "netsweep::worker", worker = label, "{text}"),
            "INFO" => tracing::info!(target: "netsweep::worker", worker = label, "{text}"),
            // Not one of ours (a panic message, a libc complaint): keep it whole and visible.
            _ => tracing::warn!(target: "netsweep::worker", worker = label, "{line}"),
        }
    }
}
