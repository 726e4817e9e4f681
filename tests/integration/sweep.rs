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
    let devices_in = |order: &str| -> Vec<String> {
        let args = [
            "-c",
            "show clock",
            "--format",
            "jsonl",
            "--pool",
            "threads",
            "--order",
            order,
        ];
        let out = run_with_limit(netsweep_run(&fleet, &args), LIMIT);
        json_lines(&out.stdout)
            .iter()
            .map(|r| r["device"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(devices_in("input"), ["first-but-slow", "second", "third"]);
    assert_eq!(
        devices_in("completion").last().map(String::as_str),
        Some("first-but-slow")
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

#[test]
fn output_dir_gets_a_file_per_device_and_command() {
    let fleet = TestFleet::start(vec![ios("o1", vec![]), ios("o2", vec![])]);
    let dir = fleet.dir.path().join("out");
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "-c", "show version"]);
    cmd.arg("--output-dir").arg(&dir);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    for device in ["o1", "o2"] {
        let mut files: Vec<String> = std::fs::read_dir(dir.join(device))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            ["01-show_clock.txt", "02-show_version.txt"],
            "{device}"
        );
        let version =
            std::fs::read_to_string(dir.join(device).join("02-show_version.txt")).unwrap();
        assert!(
            version.contains(device),
            "the hostname is in show version: {version}"
        );
    }
}

#[test]
fn merge_prints_identical_results_once() {
    let fleet = TestFleet::start(vec![
        ios("m1", vec![]),
        ios("m2", vec![]),
        ios("m3", vec![]),
    ]);
    let out = run_with_limit(
        netsweep_run(&fleet, &["-c", "show nonsense", "--merge"]),
        LIMIT,
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let headings: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("--- "))
        .collect();
    assert_eq!(headings.len(), 1, "{}", out.stdout);
    assert!(
        headings[0].contains("(3 devices) command_error"),
        "{}",
        headings[0]
    );
    // The shared output once; each device's own message on its `!` line.
    let shared = out
        .stdout
        .lines()
        .filter(|l| l.trim() == "% Invalid input detected at '^' marker.");
    assert_eq!(shared.count(), 1, "{}", out.stdout);
}

#[test]
fn a_closed_stdout_stops_the_printing_not_the_sweep() {
    use std::io::{BufRead, BufReader};
    let fleet = TestFleet::start((0..20).map(|i| ios(&format!("p{i}"), vec![])).collect());
    let journal = fleet.dir.path().join("j.jsonl");
    let mut cmd = netsweep_run(&fleet, &["-c", "show version", "-w", "2"]);
    cmd.arg("--journal").arg(&journal);
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -1`: read one line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("--- "), "{first}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let status = crate::harness::wait_with_limit(&mut child, LIMIT).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    let records = std::fs::read_to_string(&journal).unwrap().lines().count() - 1;
    assert_eq!(records, 20, "every device is in the journal");
}

#[test]
fn a_worker_count_the_limits_cannot_hold_is_refused() {
    let fleet = TestFleet::start(vec![ios("w1", vec![])]);
    for pool in ["threads", "processes"] {
        let out = run_with_limit(
            netsweep_run(
                &fleet,
                &["-c", "show clock", "--pool", pool, "-w", "10000000"],
            ),
            LIMIT,
        );
        assert_eq!(out.code(), Some(2), "{pool}: {}", out.stderr);
        assert!(out.stderr.contains("ulimit -n"), "{pool}: {}", out.stderr);
    }
}

#[test]
fn a_second_ctrl_c_stops_running_devices_at_once() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let fleet = TestFleet::start(
        (0..4)
            .map(|i| ios(&format!("h{i}"), vec![Fault::HangAfterAuth]))
            .collect(),
    );
    let journal = fleet.dir.path().join("j.jsonl");
    let mut cmd = netsweep_run(
        &fleet,
        &[
            "-c",
            "show clock",
            "--deadline",
            "5m",
            "--command-timeout",
            "5m",
        ],
    );
    cmd.arg("--journal").arg(&journal);
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id() as i32);
    crate::harness::poll_until(
        Duration::from_secs(20),
        "the devices to be logged in",
        || {
            fleet
                .fleet
                .devices()
                .iter()
                .all(|d| fleet.fleet.counters(&d.name).unwrap().auth_ok == 1)
        },
    );
    kill(pid, Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    kill(pid, Signal::SIGINT).unwrap();
    // The first Ctrl-C alone would wait 10 s for the hung devices; the second must not.
    let status = crate::harness::wait_with_limit(&mut child, Duration::from_secs(8))
        .expect("the second Ctrl-C stops the sweep before the grace period ends");
    assert_eq!(status.code(), Some(130));
    let records = std::fs::read_to_string(&journal).unwrap().lines().count() - 1;
    assert_eq!(
        records, 0,
        "cancelled devices get no record, so a resume sweeps them"
    );
}
