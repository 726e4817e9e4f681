//! Crash-tolerant sweeps: the journal survives SIGKILL and SIGINT, `--resume` finishes the
//! job without contacting finished devices again, and `report` renders it afterwards.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use netsweep_sim::{DeviceSpec, GenerateOptions, Platform};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{TestFleet, bin, netsweep_run, poll_until, run_with_limit, wait_with_limit};

fn fleet(count: usize, latency: Duration) -> TestFleet {
    let devices: Vec<DeviceSpec> = netsweep_sim::FleetSpec::generate(&GenerateOptions {
        count,
        platforms: vec![Platform::CiscoIos],
        latency,
        seed: 5,
        ..Default::default()
    })
    .unwrap()
    .devices;
    TestFleet::start(devices)
}

/// Device names of the journal's complete record lines (the header and a torn tail skipped).
fn journal_devices(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .skip(1)
        .filter(|l| l.ends_with('\n'))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["device"].as_str().map(str::to_owned))
        .collect()
}

fn connections(fleet: &TestFleet, names: &HashSet<String>) -> HashMap<String, u64> {
    names
        .iter()
        .map(|n| (n.clone(), fleet.fleet.counters(n).unwrap().connections))
        .collect()
}

#[test]
fn a_sweep_killed_with_sigkill_resumes_without_recontacting_finished_devices() {
    let fleet = fleet(2000, Duration::from_millis(20));
    let journal = fleet.dir.path().join("sweep.jsonl");
    let mut cmd = netsweep_run(
        &fleet,
        &["-c", "show clock", "-w", "32", "--format", "jsonl"],
    );
    cmd.arg("--journal")
        .arg(&journal)
        .arg("--pool")
        .arg("processes");
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    poll_until(
        Duration::from_secs(60),
        "400 records in the journal",
        || journal_devices(&journal).len() >= 400,
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();

    let first: HashSet<String> = journal_devices(&journal).into_iter().collect();
    assert!(
        first.len() >= 400 && first.len() < 2000,
        "{} finished before the kill",
        first.len()
    );
    let before = connections(&fleet, &first);

    let mut cmd = netsweep_run(&fleet, &["-w", "32", "--format", "jsonl"]);
    cmd.arg("--resume").arg(&journal);
    let out = run_with_limit(cmd, Duration::from_secs(180));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);

    let all = journal_devices(&journal);
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 2000, "exactly one final record per device");
    assert_eq!(distinct.len(), 2000, "none twice");
    assert_eq!(
        connections(&fleet, &first),
        before,
        "finished devices were contacted again"
    );
    // The resumed run printed only the devices it swept itself.
    assert_eq!(out.stdout.lines().count(), 2000 - first.len());
}

#[test]
fn sigint_stops_gracefully_with_130_and_the_resume_completes() {
    let fleet = fleet(300, Duration::from_millis(100));
    let journal = fleet.dir.path().join("sweep.jsonl");
    let mut cmd = netsweep_run(
        &fleet,
        &["-c", "show clock", "-w", "8", "--pool", "threads"],
    );
    cmd.arg("--journal").arg(&journal);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    poll_until(Duration::from_secs(60), "some records", || {
        journal_devices(&journal).len() >= 20
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = wait_with_limit(&mut child, Duration::from_secs(30)).expect("stops after SIGINT");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("resume with: netsweep run --resume"),
        "{stderr}"
    );

    let first = journal_devices(&journal);
    assert!(first.len() < 300, "the sweep stopped early");
    assert_eq!(
        first.iter().collect::<HashSet<_>>().len(),
        first.len(),
        "no duplicates"
    );

    let mut cmd = netsweep_run(&fleet, &["-w", "16", "--pool", "threads"]);
    cmd.arg("--resume").arg(&journal);
    let out = run_with_limit(cmd, Duration::from_secs(120));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let all = journal_devices(&journal);
    assert_eq!(all.len(), 300);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 300);
}

#[test]
fn a_torn_tail_is_dropped_and_different_commands_are_refused() {
    let fleet = fleet(6, Duration::ZERO);
    let journal = fleet.dir.path().join("sweep.jsonl");
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--limit", "sim000[1-3]"]);
    cmd.arg("--journal").arg(&journal);
    let out = run_with_limit(cmd, Duration::from_secs(60));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(journal_devices(&journal).len(), 3);

    // A crash mid-write leaves half a line.
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str("{\"device\":\"sim0004\",\"host\":\"127.0");
    std::fs::write(&journal, text).unwrap();

    let mut cmd = netsweep_run(&fleet, &["-c", "show version"]);
    cmd.arg("--resume").arg(&journal);
    let out = run_with_limit(cmd, Duration::from_secs(60));
    assert_eq!(
        out.code(),
        Some(2),
        "different commands must be refused: {}",
        out.stderr
    );
    assert!(out.stderr.contains("--force"), "{}", out.stderr);

    let mut cmd = netsweep_run(&fleet, &[]);
    cmd.arg("--resume").arg(&journal);
    let out = run_with_limit(cmd, Duration::from_secs(60));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let names = journal_devices(&journal);
    assert_eq!(names.len(), 6, "{names:?}");

    let mut report = std::process::Command::new(bin("netsweep"));
    report
        .arg("report")
        .arg(&journal)
        .args(["--format", "summary"]);
    let out = run_with_limit(report, Duration::from_secs(30));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("6 devices") && out.stdout.contains("6 ok"),
        "{}",
        out.stdout
    );
}
