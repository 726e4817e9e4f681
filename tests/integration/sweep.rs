//! `netsweep run`, the real binary, end to end against simulated fleets.

use std::time::Duration;

use netsweep_sim::{DeviceSpec, Fault, Platform};

use crate::harness::{TestFleet, json_lines, netsweep_run, run_with_limit, write_file};

const LIMIT: Duration = Duration::from_secs(60);

fn ios(name: &str, faults: Vec<Fault>) -> DeviceSpec {
    let mut d = DeviceSpec::new(name, Platform::CiscoIos);
    d.behaviour.faults = faults;
    d
}

#[test]
fn a_mixed_fleet_is_classified_and_exits_1() {
    let fleet = TestFleet::start(vec![
        ios("r1", vec![]),
        ios("r2", vec![]),
        ios("wrong-password", vec![Fault::Auth]),
        ios("hung", vec![Fault::HangAfterAuth]),
        DeviceSpec::new("srv1", Platform::Linux),
    ]);
    for pool in ["threads", "processes"] {
        let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--format", "jsonl"]);
        cmd.args([
            "--pool",
            pool,
            "--deadline",
            "3s",
            "--command-timeout",
            "2s",
        ]);
        let out = run_with_limit(cmd, LIMIT);
        assert_eq!(out.code(), Some(1), "{pool}: {out:#?}");
        let records = json_lines(&out.stdout);
        assert_eq!(records.len(), 5, "{pool}: {}", out.stdout);
        let status = |name: &str| {
            records
                .iter()
                .find(|r| r["device"] == name)
                .unwrap_or_else(|| panic!("{name} missing"))["status"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(status("r1"), "ok");
        assert_eq!(status("r2"), "ok");
        assert_eq!(status("wrong-password"), "auth_failed");
        assert_eq!(status("hung"), "timed_out");
        // `show clock` is not a Linux command: the shell says so and exits non-zero.
        assert_eq!(status("srv1"), "command_error");
        for r in &records {
            for field in [
                "device", "host", "port", "platform", "status", "message", "outputs", "timings",
                "worker", "attempt",
            ] {
                assert!(r.get(field).is_some(), "{field} missing in {r}");
            }
        }
        let r1 = records.iter().find(|r| r["device"] == "r1").unwrap();
        assert_eq!(r1["outputs"][0]["command"], "show clock");
        assert!(!r1["outputs"][0]["output"].as_str().unwrap().is_empty());
        assert!(
            !out.stdout.contains(netsweep_sim::DEFAULT_PASSWORD)
                && !out.stderr.contains(netsweep_sim::DEFAULT_PASSWORD),
            "a password leaked into the output"
        );
    }
}

#[test]
fn all_ok_exits_0_and_text_ends_with_a_summary() {
    let fleet = TestFleet::start(vec![ios("a1", vec![]), ios("a2", vec![])]);
    let out = run_with_limit(
        netsweep_run(&fleet, &["-c", "show clock", "-w", "2"]),
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(
        out.stdout.contains("a1") && out.stdout.contains("a2"),
        "{}",
        out.stdout
    );
    let summary = out
        .stdout
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary line in {}", out.stdout));
    assert!(
        summary.contains("2 devices") && summary.ends_with(": 2 ok"),
        "{summary}"
    );
}

#[test]
fn input_order_follows_the_inventory() {
    let mut slow = ios("first-but-slow", vec![]);
    slow.behaviour.latency = Duration::from_millis(600);
    let fleet = TestFleet::start(vec![slow, ios("second", vec![]), ios("third", vec![])]);
    let out = run_with_limit(
        netsweep_run(
            &fleet,
            &[
                "-c",
                "show clock",
                "--format",
                "jsonl",
                "--order",
                "input",
                "--pool",
                "threads",
            ],
        ),
        LIMIT,
    );
    let names: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|r| r["device"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["first-but-slow", "second", "third"], "{out:#?}");

    let out = run_with_limit(
        netsweep_run(
            &fleet,
            &[
                "-c",
                "show clock",
                "--format",
                "jsonl",
                "--order",
                "completion",
                "--pool",
                "threads",
            ],
        ),
        LIMIT,
    );
    let names: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|r| r["device"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names.last().map(String::as_str),
        Some("first-but-slow"),
        "{out:#?}"
    );
}

#[test]
fn a_bad_inventory_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let inv = write_file(
        dir.path(),
        "devices.yaml",
        "- device_type: cisco_ios\n  host: 127.0.0.1\n  username: u\n  pasword: p\n",
    );
    let mut cmd = std::process::Command::new(crate::harness::bin("netsweep"));
    cmd.args(["run", "-c", "show clock", "-i"]).arg(&inv);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{out:#?}");
    assert!(out.stderr.contains("devices.yaml:4:"), "{}", out.stderr);
    assert!(out.stderr.contains("pasword"), "{}", out.stderr);
}

#[test]
fn a_missing_command_is_a_usage_error() {
    let mut cmd = std::process::Command::new(crate::harness::bin("netsweep"));
    cmd.args(["run"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{out:#?}");
    assert!(out.stderr.contains("--command"), "{}", out.stderr);
}
