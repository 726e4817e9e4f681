//! The worker's side of the process pool: the loop `netsweep-worker` runs.
//!
//! Reads frames from the coordinator, runs one device at a time with the same device crate the
//! thread pool uses, and answers with frames. Its stdout carries frames and nothing else (logs
//! go to stderr). It exits on EOF, when the coordinator has no more jobs for it.
//!
//! Stage reports are held back: written to the output buffer but not flushed until the next
//! frame that is (the device's outputs and record), or until the session has waited
//! [`STAGE_REPORT_AFTER`] on its device. The coordinator needs a stage only to say where a
//! device that overran its deadline or lost its worker was; a device that answers promptly
//! then costs two writes instead of ten (measured: −0.13 s of coordinator CPU per 1,000
//! devices at W=100). A worker that crashes within that delay of entering a stage is reported
//! at the stage before.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use netsweep_device::SessionContext;
use netsweep_protocol::frame::{
    CoordinatorMessage, FrameError, MAX_FRAME_LEN, WorkerMessage, encode_frame, read_frame,
    write_frame,
};
use netsweep_protocol::{CommandOutput, PROTOCOL_VERSION};

/// Why a worker stopped before its input ended.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The coordinator's frames could not be read or ours not written (it is probably gone).
    #[error("frame exchange with the coordinator failed")]
    Frame(#[from] FrameError),
    /// The coordinator is from another build.
    #[error("coordinator speaks protocol version {theirs}, this worker {PROTOCOL_VERSION}")]
    VersionMismatch {
        /// The coordinator's version.
        theirs: u32,
    },
    /// The first frame was not `hello`.
    #[error("the coordinator did not start with a hello frame")]
    NoHello,
}

/// How long a session may wait on its device before the stage reports held back are sent.
pub const STAGE_REPORT_AFTER: Duration = Duration::from_millis(50);

/// Serves jobs from `input` until EOF, writing frames to `output`.
pub fn serve(input: impl Read, output: impl Write + Send + 'static) -> Result<(), WorkerError> {
    serve_with(&SessionContext::new(), input, output)
}

/// [`serve`] with a context prepared beforehand (a forked worker inherits its fork server's).
pub(crate) fn serve_with(
    ctx: &SessionContext,
    mut input: impl Read,
    output: impl Write + Send + 'static,
) -> Result<(), WorkerError> {
    let outbox = Arc::new(Mutex::new(Outbox {
        out: output,
        held: false,
    }));
    let send = |message: &WorkerMessage| lock(&outbox).send(message);
    match read_frame(&mut input)? {
        Some(CoordinatorMessage::Hello { protocol_version })
            if protocol_version == PROTOCOL_VERSION => {}
        Some(CoordinatorMessage::Hello { protocol_version }) => {
            return Err(WorkerError::VersionMismatch {
                theirs: protocol_version,
            });
        }
        Some(_) => return Err(WorkerError::NoHello),
        None => return Ok(()),
    }
    send(&WorkerMessage::Ready {
        protocol_version: PROTOCOL_VERSION,
        pid: std::process::id(),
    })?;
    let held = Arc::clone(&outbox);
    // A failed write here shows again, and is reported, at the next frame sent.
    ctx.set_idle_hook(STAGE_REPORT_AFTER, move || {
        let _ = lock(&held).release();
    });

    while let Some(message) = read_frame(&mut input)? {
        let CoordinatorMessage::Run { job } = message else {
            return Err(WorkerError::NoHello);
        };
        tracing::debug!("device {} attempt {}", job.target.name, job.attempt);
        let mut write_error = None;
        let mut record = netsweep_device::run_job(&job, ctx, &mut |stage| {
            if write_error.is_none()
                && let Err(e) = lock(&outbox).hold(&WorkerMessage::Stage { job: job.id, stage })
            {
                write_error = Some(e);
            }
        });
        if let Some(e) = write_error {
            return Err(e.into());
        }
        crate::parse::parse_job_outputs(&job, &mut record);
        let mut outbox = lock(&outbox);
        for out in std::mem::take(&mut record.outputs) {
            outbox.hold_output(job.id, out)?;
        }
        outbox.send(&WorkerMessage::Finished {
            job: job.id,
            record: Box::new(record),
        })?;
    }
    Ok(())
}

fn lock<W>(outbox: &Mutex<Outbox<W>>) -> std::sync::MutexGuard<'_, Outbox<W>> {
    outbox.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The frames on their way to the coordinator, some of them held back.
struct Outbox<W> {
    out: W,
    /// Frames are written but not flushed.
    held: bool,
}

impl<W: Write> Outbox<W> {
    /// Writes `message` and flushes it with everything held back.
    fn send(&mut self, message: &WorkerMessage) -> Result<(), FrameError> {
        write_frame(&mut self.out, message)?;
        self.held = false;
        Ok(())
    }

    /// Writes `message` to go out with the next flush.
    fn hold(&mut self, message: &WorkerMessage) -> Result<(), FrameError> {
        encode_frame(&mut self.out, message)?;
        self.held = true;
        Ok(())
    }

    /// Flushes what is held back.
    fn release(&mut self) -> Result<(), FrameError> {
        if self.held {
            self.out.flush()?;
            self.held = false;
        }
        Ok(())
    }

    /// Holds one command's output; an output whose frame would exceed the cap (possible only
    /// with pathological escaping) is cut to fit and marked truncated rather than lost.
    fn hold_output(&mut self, job: u64, out: CommandOutput) -> Result<(), FrameError> {
        let mut message = WorkerMessage::Output {
            job,
            output: Box::new(out),
        };
        loop {
            match self.hold(&message) {
                Err(FrameError::TooLarge { .. }) => {
                    let WorkerMessage::Output { output: out, .. } = &mut message else {
                        unreachable!("built above as an output frame")
                    };
                    let half = (out.output.len() / 2).min(MAX_FRAME_LEN / 8);
                    out.output.truncate(floor_char_boundary(&out.output, half));
                    out.truncated = true;
                }
                other => return other,
            }
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `main` for the `netsweep-worker` binary: logs to stderr, frames on stdin/stdout. With
/// `--fork-server` it becomes the pool's fork server instead (see `crate::fork_server`).
#[allow(clippy::print_stderr)]
pub fn main() -> std::process::ExitCode {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprintln!(
            "netsweep-worker is started by `netsweep run --pool processes`; it reads framed jobs on stdin and is not meant to be run by hand"
        );
        return std::process::ExitCode::from(2);
    }
    init_logging();
    if let Err(e) = die_with_coordinator() {
        tracing::error!("{e}");
        return std::process::ExitCode::FAILURE;
    }
    if std::env::args_os().any(|a| a == crate::fork_server::FORK_SERVER_ARG) {
        return crate::fork_server::serve(serve_stdio);
    }
    std::process::ExitCode::from(serve_stdio(&SessionContext::new()))
}

/// Serves jobs on stdin and stdout until EOF; the process's exit code.
fn serve_stdio(ctx: &SessionContext) -> u8 {
    // Our own handle on stdout: std's `Stdout` is line-buffered, and frames are binary.
    let stdout = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => std::io::BufWriter::with_capacity(64 * 1024, std::fs::File::from(fd)),
        Err(e) => {
            tracing::error!("cannot use stdout: {e}");
            return 1;
        }
    };
    let stdin = std::io::BufReader::new(std::io::stdin().lock());
    match serve_with(ctx, stdin, stdout) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            1
        }
    }
}

/// Arms `PR_SET_PDEATHSIG = SIGKILL`, so that this worker dies with the coordinator that
/// spawned it, then checks that the coordinator did not die before that (we would have been
/// handed to another parent and never signalled). The coordinator's pid comes in the
/// environment; without it (a worker started by hand), nothing is armed.
fn die_with_coordinator() -> Result<(), String> {
    use nix::sys::signal::Signal;
    use nix::unistd::{Pid, getppid};
    let Some(pid) = std::env::var(crate::process::COORDINATOR_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return Ok(());
    };
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| format!("cannot arm the parent-death signal: {e}"))?;
    if getppid() != Pid::from_raw(pid) {
        return Err("the coordinator exited while this worker started".into());
    }
    Ok(())
}

/// Plain `LEVEL message` lines on stderr, which the coordinator re-logs under this worker's
/// name. The level comes from `NETSWEEP_LOG` (the coordinator passes its own through).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("NETSWEEP_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_level(true)
        .compact()
        .try_init();
}
