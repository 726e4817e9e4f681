//! Workers started by `fork` from a pre-initialised worker process, the fork server, instead of
//! by `exec` of a fresh binary each time.
//!
//! Why: a freshly exec'd `netsweep-worker` spends about 5 ms of CPU before its first device
//! (the dynamic linker resolving libcrypto's symbols, OpenSSL 3 building its algorithm tables,
//! the known_hosts file parsed again), and a pool of 100 workers pays that 100 times on the same
//! cores as the devices' handshakes: processes reached only 58 % of the thread pool's throughput
//! on 1,000 devices at W=100. The fork server pays it once; each worker is a `fork` of it, a
//! separate process with its own memory, pipes, process group and exit status, exactly as an
//! exec'd worker, and killed, recycled and supervised the same way.
//!
//! The server never runs a job and never holds a credential, so no worker inherits anything
//! of another device. It must stay single-threaded: forking a threaded process is not safe.
//! Only a parent can reap a process, so its children's exit statuses reach the coordinator
//! through it. Its own parent-death signal takes it down with the coordinator, and its
//! children's take them down with it.
//!
//! Wire, over a `SOCK_SEQPACKET` socket pair (one message per request or notice):
//! - coordinator → server: `S`, then the known_hosts path the sweep uses if known, with the new
//!   worker's stdin, stdout and stderr as `SCM_RIGHTS` (the server reads that file before it
//!   forks, so workers inherit it parsed);
//! - server → coordinator: 12-byte notices `[tag u32][pid i32][value i32]`, little-endian:
//!   `R` ready, `P` spawned, `F` fork failed (value: errno), `X` exited (value: exit code),
//!   `K` killed (value: signal).

use std::collections::HashMap;
use std::fs::File;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr,
    recv, recvmsg, sendmsg, socketpair,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, getpid, getppid, pipe2, setpgid};

use netsweep_device::SessionContext;

use crate::backend::ExitInfo;
use crate::reap::{AFTER_KILL, poll_child, wait_or_kill};

/// The argument that makes `netsweep-worker` a fork server.
pub(crate) const FORK_SERVER_ARG: &str = "--fork-server";

/// The server's own name in `ps` (15 bytes at most), so it is never mistaken for a worker.
const SERVER_NAME: &std::ffi::CStr = c"nsw-fork-server";

/// How long a new server may take to say it is ready, and the server to answer a request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// After its control socket closes, how long the server has to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

const READY: u32 = b'R' as u32;
const SPAWNED: u32 = b'P' as u32;
const FAILED: u32 = b'F' as u32;
const EXITED: u32 = b'X' as u32;
const KILLED: u32 = b'K' as u32;
const NOTICE_LEN: usize = 12;
/// Longest spawn request: `S` and a path.
const MAX_REQUEST: usize = 4096;

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
            &[IoSlice::new(b"S"), IoSlice::new(path)],
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
    let mut buf = [0u8; NOTICE_LEN];
    loop {
        let n = match recv(socket.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Ok(n) => n,
            Err(_) => 0,
        };
        if n != NOTICE_LEN {
            break; // EOF, or not a fork server talking
        }
        let word = |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let (tag, pid, value) = (word(0), word(4), word(8) as i32);
        let _ = match tag {
            READY | SPAWNED => answers.send(Ok(pid)),
            FAILED => answers.send(Err(Errno::from_raw(value))),
            EXITED => {
                board.post(
                    pid,
                    ExitInfo {
                        signal: None,
                        exit_code: Some(value),
                    },
                );
                Ok(())
            }
            KILLED => {
                board.post(
                    pid,
                    ExitInfo {
                        signal: Some(value),
                        exit_code: None,
                    },
                );
                Ok(())
            }
            _ => break,
        };
    }
    board.close();
}

// ---- the server's side, inside `netsweep-worker --fork-server` ----

/// Runs the fork server on the control socket it was given as stdin, until that closes. It
/// does once what every worker would otherwise do for itself (libssh2 and OpenSSL set-up,
/// reading known_hosts); each forked worker runs `worker` with that context and exits with
/// its code.
pub(crate) fn serve(worker: fn(&SessionContext) -> u8) -> ExitCode {
    match serve_inner(worker) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("fork server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve_inner(worker: fn(&SessionContext) -> u8) -> Result<(), Errno> {
    // The control socket arrived as stdin; move it out of the way of the workers' stdin.
    let control = {
        // A close-on-exec copy numbered 3 or above (F_DUPFD_CLOEXEC).
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(errno)?
    };
    let null = File::open("/dev/null").map_err(errno)?;
    nix::unistd::dup2_stdin(&null)?;
    drop(null);

    let worker_name = nix::sys::prctl::get_name()?;
    let _ = nix::sys::prctl::set_name(SERVER_NAME);
    netsweep_device::prepare_process();
    let ctx = SessionContext::new();
    release_free_memory();

    let server_pid = getpid();
    let mut sigchld = SigSet::empty();
    sigchld.add(Signal::SIGCHLD);
    let mut unblocked = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&sigchld), Some(&mut unblocked))?;
    let children = SignalFd::with_flags(&sigchld, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
    notify(&control, READY, server_pid.as_raw(), 0)?;

    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 3]);
    loop {
        let mut fds = [
            PollFd::new(control.as_fd(), PollFlags::POLLIN),
            PollFd::new(children.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            r => r?,
        };
        let request = fds[0].any().unwrap_or(true);
        let exited = fds[1].any().unwrap_or(false);

        if exited {
            while let Ok(Some(_)) = children.read_signal() {}
            report_exits(&control)?;
        }
        if !request {
            continue;
        }
        let mut request = [0u8; MAX_REQUEST];
        let mut iov = [std::io::IoSliceMut::new(&mut request)];
        let received = match recvmsg::<UnixAddr>(
            control.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            r => r?,
        };
        let length = received.bytes;
        if length == 0 {
            return Ok(()); // the coordinator is done (or gone)
        }
        let mut passed: Vec<OwnedFd> = Vec::new();
        for message in received.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = message {
                // SAFETY: SCM_RIGHTS just installed these descriptors in this process; nothing
                // else owns them.
                #[allow(unsafe_code)]
                passed.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }),
                );
            }
        }
        let Ok(stdio) = <[OwnedFd; 3]>::try_from(passed) else {
            notify(&control, FAILED, 0, Errno::EINVAL as i32)?;
            continue;
        };
        if length > 1 {
            let path = std::ffi::OsStr::from_bytes(&request[1..length]);
            if ctx.preload_known_hosts(Path::new(path)) {
                release_free_memory();
            }
        }
        // SAFETY: this process is single-threaded (see the module comment), so the child may
        // run any code after fork.
        #[allow(unsafe_code)]
        match unsafe { nix::unistd::fork() } {
            Ok(ForkResult::Child) => {
                let worker = || worker(&ctx);
                become_worker(
                    stdio,
                    control,
                    children,
                    &unblocked,
                    &worker_name,
                    server_pid,
                    &worker,
                )
            }
            Ok(ForkResult::Parent { child }) => {
                drop(stdio);
                // The child does this too; done here as well, its group exists before the
                // coordinator learns the pid and may signal the group.
                let _ = setpgid(child, child);
                notify(&control, SPAWNED, child.as_raw(), 0)?;
            }
            Err(errno) => {
                drop(stdio);
                notify(&control, FAILED, 0, errno as i32)?;
            }
        }
    }
}

/// Hands the heap's free pages back to the kernel. Every page the server holds is mapped
/// into each worker it forks (and counted in the worker's RSS), used or not; what set-up
/// allocated and freed need not be.
fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free memory to the kernel; this process is
    // single-threaded and no allocation is in progress.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The errno behind an I/O error (EIO if it has none).
fn errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

/// Reaps every child that has ended and tells the coordinator how.
fn report_exits(control: &OwnedFd) -> Result<(), Errno> {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => notify(control, EXITED, pid.as_raw(), code)?,
            Ok(WaitStatus::Signaled(pid, signal, _)) => {
                notify(control, KILLED, pid.as_raw(), signal as i32)?;
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
            Ok(_) => {}
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

fn notify(control: &OwnedFd, tag: u32, pid: i32, value: i32) -> Result<(), Errno> {
    let mut buf = [0u8; NOTICE_LEN];
    buf[..4].copy_from_slice(&tag.to_le_bytes());
    buf[4..8].copy_from_slice(&pid.to_le_bytes());
    buf[8..].copy_from_slice(&value.to_le_bytes());
    nix::sys::socket::send(control.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL).map(|_| ())
}

/// The forked child: takes its pipes as stdin, stdout and stderr, drops everything of the
/// server's, and runs the worker loop. Never returns.
fn become_worker(
    [stdin, stdout, stderr]: [OwnedFd; 3],
    control: OwnedFd,
    children: SignalFd,
    unblocked: &SigSet,
    name: &std::ffi::CStr,
    server_pid: Pid,
    worker: &dyn Fn() -> u8,
) -> ! {
    let setup = || -> Result<(), Errno> {
        drop((control, children));
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(unblocked), None)?;
        nix::unistd::dup2_stdin(&stdin)?;
        nix::unistd::dup2_stdout(&stdout)?;
        nix::unistd::dup2_stderr(&stderr)?;
        drop((stdin, stdout, stderr));
        setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
        let _ = nix::sys::prctl::set_name(name);
        // Armed before the check, so a server that died in between cannot be missed.
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
        if getppid() != server_pid {
            return Err(Errno::ESRCH);
        }
        Ok(())
    };
    let code = match setup() {
        Ok(()) => worker(),
        Err(e) => {
            tracing::error!("forked worker could not set itself up: {e}");
            1
        }
    };
    // `_exit`, not `exit`: the server's atexit handlers (OpenSSL's clean-up among them) are
    // not this process's to run, and would only burn CPU.
    // SAFETY: ends the process at once; nothing runs after it.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(i32::from(code))
    }
}
