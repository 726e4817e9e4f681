//! The fork server itself, inside `netsweep-worker --fork-server`: set up once, then fork a
//! worker for each request and report each worker's end.
//!
//! It must stay single-threaded (forking a threaded process is not safe), never run a job and
//! never hold a credential, so no worker inherits anything of another device.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixAddr, recvmsg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, getpid, getppid, setpgid};

use netsweep_device::SessionContext;

use super::notice::Notice;
use super::{MAX_REQUEST, PREPARE_PARSE, errno};

/// The server's own name in `ps` (15 bytes at most), so it is never mistaken for a worker.
const SERVER_NAME: &std::ffi::CStr = c"nsw-fork-server";

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
    notify(
        &control,
        Notice::Ready {
            pid: pid_u32(server_pid),
        },
    )?;

    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 3]);
    let mut buffer = vec![0u8; MAX_REQUEST];
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
        let mut iov = [std::io::IoSliceMut::new(&mut buffer)];
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
        if buffer[0] == PREPARE_PARSE {
            if let Ok(plan) = serde_json::from_slice::<crate::parse::ParsePlan>(&buffer[1..length])
            {
                plan.compile();
                release_free_memory();
            }
            continue;
        }
        let Ok(stdio) = <[OwnedFd; 3]>::try_from(passed) else {
            notify(
                &control,
                Notice::ForkFailed {
                    errno: Errno::EINVAL as i32,
                },
            )?;
            continue;
        };
        if length > 1 {
            let path = std::ffi::OsStr::from_bytes(&buffer[1..length]);
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
                notify(
                    &control,
                    Notice::Spawned {
                        pid: pid_u32(child),
                    },
                )?;
            }
            Err(errno) => {
                drop(stdio);
                notify(
                    &control,
                    Notice::ForkFailed {
                        errno: errno as i32,
                    },
                )?;
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

/// Reaps every child that has ended and tells the coordinator how.
fn report_exits(control: &OwnedFd) -> Result<(), Errno> {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => notify(
                control,
                Notice::Exited {
                    pid: pid_u32(pid),
                    code,
                },
            )?,
            Ok(WaitStatus::Signaled(pid, signal, _)) => notify(
                control,
                Notice::Killed {
                    pid: pid_u32(pid),
                    signal: signal as i32,
                },
            )?,
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
            Ok(_) => {}
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// A pid as the coordinator names processes (`std::process::Child::id`).
fn pid_u32(pid: Pid) -> u32 {
    pid.as_raw().cast_unsigned()
}

fn notify(control: &OwnedFd, notice: Notice) -> Result<(), Errno> {
    nix::sys::socket::send(
        control.as_raw_fd(),
        &notice.encode(),
        MsgFlags::MSG_NOSIGNAL,
    )
    .map(|_| ())
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
