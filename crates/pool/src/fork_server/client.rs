//! The coordinator's side of the fork server: starting it, asking it for workers, and sorting
//! its notices into answers and exit statuses.
//!
//! Runs in the coordinator's process (the dispatcher's thread and one notice-reader thread);
//! it must not fork, and it never sees a job or a credential.

use std::collections::HashMap;
use std::fs::File;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr, recv, sendmsg,
    socketpair,
};
use nix::unistd::{Pid, pipe2};

use super::notice::{NOTICE_LEN, Notice};
use super::{FORK_SERVER_ARG, MAX_REQUEST, PREPARE_PARSE, SPAWN, errno};
use crate::backend::ExitInfo;
use crate::reap::{AFTER_KILL, poll_child, wait_or_kill};

/// How long a new server may take to say it is ready, and the server to answer a request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// After its control socket closes, how long the server has to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Why a fork server could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum ForkServerError {
    /// Its control socket or a worker's pipes could not be made.
    #[error("cannot set up its control socket or pipes")]
    Setup(#[source] Errno),
    /// The binary could not be started.
    #[error("cannot start it")]
    Spawn(#[source] std::io::Error),
    /// It never said it was ready (not a `netsweep-worker`, or stuck).
    #[error(
        "it did not answer as a fork server within {}s (`--worker-start exec` runs each worker with exec instead)",
        ANSWER_TIMEOUT.as_secs()
    )]
    NoAnswer,
    /// It died or stopped answering.
    #[error("it has stopped")]
    Gone,
    /// `fork` failed in it.
    #[error("it could not fork a worker")]
    Fork(#[source] Errno),
}

/// A new worker: its pid and the coordinator's ends of its pipes.
pub(crate) struct Forked {
    pub(crate) pid: u32,
    pub(crate) stdin: File,
    pub(crate) stdout: File,
    pub(crate) stderr: File,
}

/// Exit statuses the server reported, by pid, until the coordinator collects them.
#[derive(Default)]
pub(crate) struct ExitBoard {
    state: Mutex<BoardState>,
    changed: Condvar,
}

#[derive(Default)]
struct BoardState {
    exited: HashMap<u32, ExitInfo>,
    /// The server is gone: no further notice will come.
    closed: bool,
}

impl ExitBoard {
    /// The exit status of worker `pid`, waiting up to `timeout` for it; `None` if it has not
    /// been reported by then, or never will be (the server is gone).
    pub(crate) fn wait(&self, pid: u32, timeout: Duration) -> Option<ExitInfo> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(info) = state.exited.remove(&pid) {
                return Some(info);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if state.closed || left.is_zero() {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn post(&self, pid: u32, info: ExitInfo) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.exited.insert(pid, info);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.changed.notify_all();
    }

    fn is_closed(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed
    }
}

/// The coordinator's handle on a running fork server.
pub(crate) struct ForkServer {
    process: Child,
    control: OwnedFd,
    answers: Receiver<Result<u32, Errno>>,
    exits: Arc<ExitBoard>,
}

impl ForkServer {
    /// Starts `cmd` (a worker command, environment already set) as a fork server and waits
    /// until it is ready. `on_stderr` receives its stderr (log lines).
    pub(crate) fn start(
        mut cmd: Command,
        on_stderr: impl FnOnce(File) + Send + 'static,
    ) -> Result<ForkServer, ForkServerError> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(ForkServerError::Setup)?;
        // Its own process group, so that `stop` can kill whatever it may have left behind.
        cmd.arg(FORK_SERVER_ARG)
            .process_group(0)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut process = cmd.spawn().map_err(ForkServerError::Spawn)?;
        if let Some(stderr) = process.stderr.take() {
            let stderr = File::from(OwnedFd::from(stderr));
            let _ = thread::Builder::new()
                .name("netsweep-fork-server-log".into())
                .stack_size(128 * 1024)
                .spawn(move || on_stderr(stderr));
        }
        let notices = ours
            .try_clone()
            .map_err(|e| ForkServerError::Setup(errno(e)))?;
        let exits = Arc::new(ExitBoard::default());
        let (tx, answers) = std::sync::mpsc::channel();
        let board = Arc::clone(&exits);
        let reader = thread::Builder::new()
            .name("netsweep-fork-server".into())
            .stack_size(128 * 1024)
            .spawn(move || read_notices(notices, &tx, &board));
        let mut server = ForkServer {
            process,
            control: ours,
            answers,
            exits,
        };
        if reader.is_err() {
            return Err(ForkServerError::Spawn(std::io::Error::other(
                "cannot start its reader thread",
            )));
        }
        match server.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(Ok(_)) => Ok(server),
            Ok(Err(_)) | Err(_) => {
                // Killed by a signal while starting is bad luck, worth another try; anything
                // else (an exit, no answer) means this binary is no fork server.
                let killed =
                    matches!(server.process.try_wait(), Ok(Some(s)) if s.signal().is_some());
                server.stop();
                Err(if killed {
                    ForkServerError::Gone
                } else {
                    ForkServerError::NoAnswer
                })
            }
        }
    }

    /// Whether the server is still there to fork workers.
    pub(crate) fn is_alive(&self) -> bool {
        !self.exits.is_closed()
    }

    /// Where the exit statuses of this server's workers arrive.
    pub(crate) fn exits(&self) -> Arc<ExitBoard> {
        Arc::clone(&self.exits)
    }

    /// Has the server compile what the sweep will parse before its next fork, so that every
    /// worker forked after it has the automata. Best effort: a plan too large for one
    /// request, or a server gone, leaves each worker to compile for itself.
    pub(crate) fn prepare_parse(&self, plan: &crate::parse::ParsePlan) {
        let Ok(json) = serde_json::to_vec(plan) else {
            return;
        };
        if json.len() + 1 > MAX_REQUEST {
            return;
        }
        let _ = sendmsg::<UnixAddr>(
            self.control.as_raw_fd(),
            &[IoSlice::new(&[PREPARE_PARSE]), IoSlice::new(&json)],
            &[],
            MsgFlags::MSG_NOSIGNAL,
            None,
        );
    }

    /// Forks a new worker with fresh pipes for its stdin, stdout and stderr, its known_hosts
    /// cache brought up to date with `known_hosts` first.
    pub(crate) fn spawn(&self, known_hosts: Option<&Path>) -> Result<Forked, ForkServerError> {
        let cloexec = OFlag::O_CLOEXEC;
        let (child_in, our_in) = pipe2(cloexec).map_err(ForkServerError::Setup)?;
        let (our_out, child_out) = pipe2(cloexec).map_err(ForkServerError::Setup)?;
        let (our_err, child_err) = pipe2(cloexec).map_err(ForkServerError::Setup)?;
        let fds = [
            child_in.as_raw_fd(),
            child_out.as_raw_fd(),
            child_err.as_raw_fd(),
        ];
        let path = known_hosts.map_or(&[][..], |p| p.as_os_str().as_bytes());
        let path = if path.len() < MAX_REQUEST { path } else { &[] };
        sendmsg::<UnixAddr>(
            self.control.as_raw_fd(),
            &[IoSlice::new(&[SPAWN]), IoSlice::new(path)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|_| ForkServerError::Gone)?;
        // The server holds its copies now; ours must go, or the worker's EOF would never come.
        drop((child_in, child_out, child_err));
        match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(Ok(pid)) => Ok(Forked {
                pid,
                stdin: File::from(our_in),
                stdout: File::from(our_out),
                stderr: File::from(our_err),
            }),
            Ok(Err(errno)) => Err(ForkServerError::Fork(errno)),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                Err(ForkServerError::Gone)
            }
        }
    }

    /// Closes the control socket (the server's cue to exit) and reaps the server, killing its
    /// process group if it lingers. Workers it still has die with it (their parent-death
    /// signal).
    fn stop(&mut self) {
        let _ =
            nix::sys::socket::shutdown(self.control.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let group = Pid::from_raw(self.process.id() as i32);
        let status = wait_or_kill(
            group,
            EXIT_GRACE,
            AFTER_KILL,
            poll_child(&mut self.process, "fork server"),
        );
        if status.is_none() {
            tracing::warn!("the fork server did not exit, even after SIGKILL; leaving it");
        }
    }
}

impl Drop for ForkServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sorts the server's notices: answers to requests go to `answers`, exits to `board`.
fn read_notices(socket: OwnedFd, answers: &Sender<Result<u32, Errno>>, board: &ExitBoard) {
    let mut buf = [0u8; NOTICE_LEN + 1];
    loop {
        let n = match recv(socket.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Ok(n) => n,
            Err(_) => 0,
        };
        // EOF, or not a fork server talking.
        let Some(notice) = Notice::decode(&buf[..n]) else {
            break;
        };
        let _ = match notice {
            Notice::Ready { pid } | Notice::Spawned { pid } => answers.send(Ok(pid)),
            Notice::ForkFailed { errno } => answers.send(Err(Errno::from_raw(errno))),
            Notice::Exited { pid, code } => {
                let info = ExitInfo {
                    signal: None,
                    exit_code: Some(code),
                };
                board.post(pid, info);
                Ok(())
            }
            Notice::Killed { pid, signal } => {
                let info = ExitInfo {
                    signal: Some(signal),
                    exit_code: None,
                };
                board.post(pid, info);
                Ok(())
            }
        };
    }
    board.close();
}
