//! `netsweep compare`: the same sweep for every (pool, workers) pair, measured and tabled.
//!
//! Each measurement is a separate `netsweep run --no-journal --stats FILE` child, so every run
//! starts cold and its CPU and memory figures are its own (see [`crate::stats`]). With
//! `--simulate` the simulator lives in this process, outside what is measured.

#![allow(clippy::print_stdout)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::ExitStatus;
use crate::args::{CompareArgs, CompareFormat, PoolChoice};
use crate::chart;
use crate::stats::RunStats;

/// The figures of one (pool, workers) pair over its runs.
#[derive(Debug, Serialize)]
pub struct Row {
    /// `threads` or `processes`.
    pub pool: &'static str,
    /// Worker count.
    pub workers: usize,
    /// Runs measured.
    pub runs: usize,
    /// Wall time, seconds: median, min, max.
    pub wall_s: Spread,
    /// Devices per second (median run).
    pub devices_per_s: f64,
    /// Failed devices (median run).
    pub failed: u64,
    /// CPU seconds of coordinator plus workers (median run).
    pub cpu_s: f64,
    /// Peak RSS of the coordinator over the runs, KiB.
    pub coordinator_peak_rss_kib: i64,
    /// Peak RSS of one worker process over the runs, KiB (0 for threads).
    pub worker_peak_rss_kib: u64,
}

/// Median, min and max of a sample.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    /// Median (the lower middle of an even sample, so it is a run that happened).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Spread {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        Spread {
            median: v[(v.len() - 1) / 2],
            min: v[0],
            max: v[v.len() - 1],
        }
    }
}

/// Runs the comparison.
pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitStatus> {
    if args.workers.is_empty() || args.workers.contains(&0) {
        bail!("--workers needs worker counts of at least 1");
    }
    if args.repeat == 0 {
        bail!("--repeat needs at least 1");
    }
    if let Some(path) = &args.chart {
        chart::check_path(path)?;
    }
    let inventory = crate::run::load_inventory(&args.inventory, netsweep_platform::builtin())?;
    let devices = inventory.select(&args.limit)?.len();
    let _fleet = if args.simulate {
        Some(crate::run::start_simulator(
            &args.inventory,
            args.sim_seed,
            netsweep_platform::builtin(),
        )?)
    } else {
        None
    };
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let known_hosts = crate::run::known_hosts_path(&args.host_keys)?;
    let exe = std::env::current_exe().context("cannot find netsweep's own path")?;

    let mut rows = Vec::new();
    let total = args.pools.len() * args.workers.len() * args.repeat;
    let mut n = 0;
    for &pool in &args.pools {
        for &workers in &args.workers {
            let mut runs = Vec::new();
            for _ in 0..args.repeat {
                n += 1;
                eprintln!(
                    "compare: [{n}/{total}] {} × {workers} workers, {devices} devices",
                    pool.name()
                );
                let stats_file = scratch.path().join(format!("run-{n}.json"));
                runs.push(measure(
                    &exe,
                    args,
                    pool,
                    workers,
                    known_hosts.as_deref(),
                    &stats_file,
                )?);
            }
            rows.push(row(pool, workers, &runs));
        }
    }

    match args.format {
        CompareFormat::Text => print!("{}", table(&rows, devices)),
        CompareFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
    }
    if let Some(path) = &args.chart {
        chart::draw(path, &rows, devices)?;
        eprintln!("chart: {}", path.display());
    }
    Ok(ExitStatus::Ok)
}

/// One `netsweep run` child, measured.
fn measure(
    exe: &Path,
    args: &CompareArgs,
    pool: PoolChoice,
    workers: usize,
    known_hosts: Option<&Path>,
    stats_file: &Path,
) -> anyhow::Result<RunStats> {
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg("-i")
        .arg(&args.inventory)
        .args(["--pool", pool.name(), "-w", &workers.to_string()])
        .args(["--no-journal", "--no-progress", "--format", "jsonl"])
        .arg("--stats")
        .arg(stats_file)
        .arg("--deadline")
        .arg(format!("{}ms", args.deadline.as_millis()))
        .args(["--host-key-policy", args.host_keys.host_key_policy.name()]);
    for c in &args.commands {
        cmd.arg("-c").arg(c);
    }
    for l in &args.limit {
        cmd.arg("--limit").arg(l);
    }
    if let Some(k) = known_hosts {
        cmd.arg("--known-hosts").arg(k);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start netsweep run")?;
    let mut stderr = String::new();
    // Read to EOF before waiting, so a chatty child can never block on a full pipe.
    let _ = child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr);
    let status = child.wait()?;
    match status.code() {
        Some(0 | 1) => {}
        Some(130) => bail!("interrupted"),
        _ => bail!(
            "`netsweep run` with {} × {workers} failed ({status}):\n{}",
            pool.name(),
            stderr.trim_end()
        ),
    }
    let text = std::fs::read_to_string(stats_file)
        .with_context(|| format!("cannot read {}", stats_file.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn row(pool: PoolChoice, workers: usize, runs: &[RunStats]) -> Row {
    let wall: Vec<f64> = runs.iter().map(|r| r.elapsed_s).collect();
    let wall_s = Spread::of(&wall);
    // The figures of the median run, so that rate, failures and CPU belong together.
    let median_run = runs
        .iter()
        .find(|r| r.elapsed_s == wall_s.median)
        .expect("the median is one of the runs");
    Row {
        pool: pool.name(),
        workers,
        runs: runs.len(),
        wall_s,
        devices_per_s: median_run.devices_per_s,
        failed: median_run.failed,
        cpu_s: median_run.coordinator_cpu_s + median_run.workers_cpu_s,
        coordinator_peak_rss_kib: runs
            .iter()
            .map(|r| r.coordinator_peak_rss_kib)
            .max()
            .unwrap_or(0),
        worker_peak_rss_kib: runs
            .iter()
            .map(|r| r.worker_peak_rss_kib)
            .max()
            .unwrap_or(0),
    }
}

/// The table, hyperfine-style: one line per pair, the fastest marked.
fn table(rows: &[Row], devices: usize) -> String {
    let fastest = rows
        .iter()
        .map(|r| r.wall_s.median)
        .fold(f64::INFINITY, f64::min);
    let mut out = format!(
        "{devices} devices\n{:<10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>7} {:>8} {:>11} {:>11}\n",
        "pool",
        "workers",
        "wall",
        "min",
        "max",
        "devices/s",
        "failed",
        "CPU s",
        "coord RSS",
        "worker RSS"
    );
    for r in rows {
        let worker_rss = if r.worker_peak_rss_kib > 0 {
            mib(r.worker_peak_rss_kib as i64)
        } else {
            "-".into()
        };
        out.push_str(&format!(
            "{:<10} {:>7} {:>9.2}s {:>9.2}s {:>9.2}s {:>10.1} {:>7} {:>8.2} {:>11} {:>11}{}\n",
            r.pool,
            r.workers,
            r.wall_s.median,
            r.wall_s.min,
            r.wall_s.max,
            r.devices_per_s,
            r.failed,
            r.cpu_s,
            mib(r.coordinator_peak_rss_kib),
            worker_rss,
            if r.wall_s.median == fastest {
                "  ← fastest"
            } else {
                ""
            },
        ));
    }
    out
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_lower_middle() {
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 10.0));
        let s = Spread::of(&[5.0]);
        assert_eq!((s.median, s.min, s.max), (5.0, 5.0, 5.0));
    }
}
