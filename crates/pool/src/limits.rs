//! Open-file limits: raised once at start, and checked against the pool size asked for.
//!
//! A sweep of thousands of devices holds thousands of sockets (thread pool) or pipes (process
//! pool). Finding out at device 1,021 that the soft limit was 1,024 is worse than refusing at
//! start with the number to fix.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::PoolError;

/// Descriptors the coordinator needs besides its workers (journal, inventory, stdio, logs).
const BASELINE_FDS: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
pub fn raise_nofile_limit() -> u64 {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::debug!("cannot raise the open-file limit from {soft} to {hard}: {e}");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(_) => u64::MAX,
    }
}

/// Refuses a process pool whose pipes would not fit in the open-file limit: each worker costs
/// the coordinator three descriptors (stdin, stdout, stderr).
pub(crate) fn check_process_pool(workers: usize) -> Result<(), PoolError> {
    check(workers, 3)
}

/// Refuses a thread pool whose sockets would not fit: one per thread, plus a spare for the
/// session an abandoned thread may still hold.
pub(crate) fn check_thread_pool(workers: usize) -> Result<(), PoolError> {
    check(workers, 2)
}

fn check(workers: usize, per_worker: u64) -> Result<(), PoolError> {
    let limit = raise_nofile_limit();
    let needed = workers as u64 * per_worker + BASELINE_FDS;
    if needed > limit {
        return Err(PoolError::TooManyWorkers {
            workers,
            needed,
            limit,
        });
    }
    Ok(())
}
