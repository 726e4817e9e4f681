//! `netsweep run --stats FILE`: a run's resource figures as JSON, for benchmarks and
//! `netsweep compare`.
//!
//! CPU figures come from `getrusage`: the coordinator's own (`RUSAGE_SELF`) and its reaped
//! children's (`RUSAGE_CHILDREN`), which are exactly the worker processes, since the pool
//! reaps every worker it starts. A worker's peak RSS comes from the pool, which reads each
//! worker's `VmHWM` after every device: the children's `getrusage` figure would count the
//! coordinator's own pages that a child holds between fork and exec.

use std::path::Path;

use anyhow::Context;
use netsweep_journal::Summary;
use nix::sys::resource::{UsageWho, getrusage};
use serde::{Deserialize, Serialize};

use crate::args::RunArgs;

/// The JSON written by `--stats`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunStats {
    /// `threads` or `processes`.
    pub pool: String,
    /// `--workers`.
    pub workers: usize,
    /// Devices finished in this run.
    pub devices: u64,
    /// Of which not ok.
    pub failed: u64,
    /// Wall time of the sweep, seconds.
    pub elapsed_s: f64,
    /// Devices per second of wall time.
    pub devices_per_s: f64,
    /// User + system CPU seconds of the coordinator.
    pub coordinator_cpu_s: f64,
    /// User + system CPU seconds of every worker process.
    pub workers_cpu_s: f64,
    /// Peak resident set of the coordinator, KiB.
    pub coordinator_peak_rss_kib: i64,
    /// Peak resident set of the largest worker process, KiB (0 for threads).
    pub worker_peak_rss_kib: u64,
}

/// Writes `path` for the run that `args` and `summary` describe.
pub fn write(
    path: &Path,
    args: &RunArgs,
    summary: &Summary,
    pool: &netsweep_pool::RunStats,
) -> anyhow::Result<()> {
    let me = getrusage(UsageWho::RUSAGE_SELF)?;
    let children = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let cpu = |u: &nix::sys::resource::Usage| {
        let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        secs(u.user_time()) + secs(u.system_time())
    };
    let failed: u64 = summary.failed.iter().map(|f| f.devices.len() as u64).sum();
    let stats = RunStats {
        pool: args.pool.name().to_owned(),
        workers: args.workers,
        devices: summary.this_run,
        failed,
        elapsed_s: summary.elapsed.as_secs_f64(),
        devices_per_s: summary.devices_per_sec,
        coordinator_cpu_s: cpu(&me),
        workers_cpu_s: cpu(&children),
        coordinator_peak_rss_kib: me.max_rss(),
        worker_peak_rss_kib: pool.worker_peak_rss_kib,
    };
    let text = serde_json::to_string_pretty(&stats)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}
