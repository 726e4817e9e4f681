//! Collecting a process that should be ending, without ever waiting for it forever: a bounded
//! wait, then SIGKILL to its whole process group, then a second bounded wait.
//!
//! One helper for every process the pool starts: a worker whose stdout closed (exec'd, or
//! forked by the fork server, whose exit status arrives on the server's board) and the fork
//! server itself at the end of a run. Each leads its own process group, so the kill also takes
//! anything it started. A process that outlives even SIGKILL (stuck in an uninterruptible
//! sleep on a dead NFS mount, say) is given up on after the second wait and left to the
//! kernel: the dispatcher must never hang on one worker.

use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// After SIGKILL, how long a process may take to be reported dead before it is given up on.
pub(crate) const AFTER_KILL: Duration = Duration::from_secs(2);

/// How often [`poll_child`] looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// Waits up to `grace` for the process leading `group` to end; then kills the group and waits
/// up to `after_kill` more. `wait(timeout)` is how this process's end is observed: its status,
/// or `None` if it has not ended within `timeout` (or never can be observed). `None` overall:
/// the process could not be collected in time; it has been sent SIGKILL all the same.
pub(crate) fn wait_or_kill<S>(
    group: Pid,
    grace: Duration,
    after_kill: Duration,
    mut wait: impl FnMut(Duration) -> Option<S>,
) -> Option<S> {
    if let Some(status) = wait(grace) {
        return Some(status);
    }
    // ESRCH: the group is already gone, which is what was wanted.
    let _ = killpg(group, Signal::SIGKILL);
    wait(after_kill)
}

/// The `wait` of [`wait_or_kill`] for a child of this process: `try_wait` polled until the
/// timeout. A child that cannot be waited for (already collected elsewhere) is reported once,
/// under `label`, and never waited for again.
pub(crate) fn poll_child<'a>(
    child: &'a mut Child,
    label: &'a str,
) -> impl FnMut(Duration) -> Option<ExitStatus> + 'a {
    let mut failed = false;
    move |timeout| {
        let deadline = Instant::now() + timeout;
        while !failed {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(process = %label, "cannot wait for it: {e}");
                    failed = true;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;

    use super::*;

    fn group_leader(script: &str) -> (Child, Pid) {
        let child = Command::new("sh")
            .args(["-c", script])
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        (child, pid)
    }

    #[test]
    fn a_process_that_ends_in_time_keeps_its_own_status() {
        let (mut child, group) = group_leader("exit 3");
        let status = wait_or_kill(group, Duration::from_secs(5), AFTER_KILL, |t| {
            poll_child(&mut child, "sh")(t)
        });
        assert_eq!(status.and_then(|s| s.code()), Some(3));
    }

    #[test]
    fn a_lingering_process_and_its_group_are_killed() {
        // The shell never exits by itself and leaves a grandchild in its group: both must go.
        let (mut child, group) = group_leader("sleep 30 & wait");
        let status = wait_or_kill(group, Duration::from_millis(50), AFTER_KILL, |t| {
            poll_child(&mut child, "sh")(t)
        });
        assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));
        // The group is empty once its last member is gone: `kill(-pgid, 0)` fails with ESRCH.
        let deadline = Instant::now() + Duration::from_secs(5);
        while killpg(group, None).is_ok() {
            assert!(
                Instant::now() < deadline,
                "the grandchild outlived its group's kill"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_process_never_reported_dead_is_given_up_on_after_both_waits() {
        let (mut child, group) = group_leader("sleep 30");
        let mut waits = Vec::new();
        let status: Option<()> = wait_or_kill(
            group,
            Duration::from_millis(1),
            Duration::from_millis(2),
            |t| {
                waits.push(t);
                None
            },
        );
        assert_eq!(status, None);
        assert_eq!(waits, [Duration::from_millis(1), Duration::from_millis(2)]);
        // It was killed all the same.
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
}
