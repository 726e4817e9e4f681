//! Login pacing and blast radius through the real `netsweep run`, measured by the simulator:
//! `--connect-rate` and `--max-per-group` by its log of sessions, `--canary` and
//! `--max-failures` by which devices it saw at all, and a transient AAA failure retried where
//! a wrong password is not. Every bound asserted holds on a slow machine too: a rate is
//! checked as a ceiling per window and a floor on the total span, never as a speed.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netsweep_sim::{DeviceSpec, Fault, Platform, SessionSpan};

use crate::harness::{TestFleet, json_lines, netsweep_run, run_with_limit, write_file};

const LIMIT: Duration = Duration::from_secs(120);

fn ios(name: &str, faults: Vec<Fault>, latency_ms: u64) -> DeviceSpec {
    let mut d = DeviceSpec::new(name, Platform::CiscoIos);
    d.behaviour.faults = faults;
    d.behaviour.latency = Duration::from_millis(latency_ms);
    d
}

/// `count` healthy devices `prefix01`, `prefix02`, …
fn healthy(prefix: &str, count: usize, latency_ms: u64) -> Vec<DeviceSpec> {
    (1..=count)
        .map(|i| ios(&format!("{prefix}{i:02}"), vec![], latency_ms))
        .collect()
}

/// Writes an inventory of the fleet's devices in `groups` (a device may be in several: its
/// first group holds the entry, the others are listed under `groups:`), devices in no group
/// at the end, as a plain list is not allowed beside groups.
fn grouped_inventory(fleet: &TestFleet, groups: &[(&str, &[&str])]) -> PathBuf {
    let mut home: HashMap<&str, &str> = HashMap::new();
    let mut extra: HashMap<&str, Vec<&str>> = HashMap::new();
    for (group, devices) in groups {
        for d in *devices {
            match home.get(d) {
                None => {
                    home.insert(d, group);
                }
                Some(_) => extra.entry(*d).or_default().push(group),
            }
        }
    }
    let mut text = String::new();
    let entry = |text: &mut String, d: &DeviceSpec| {
        let _ = writeln!(text, "  - name: {}", d.name);
        let _ = writeln!(text, "    device_type: cisco_ios");
        let _ = writeln!(text, "    host: {}", d.addr.ip());
        let _ = writeln!(text, "    port: {}", d.addr.port());
        let _ = writeln!(text, "    username: {}", d.username);
        let _ = writeln!(text, "    password: {}", d.password);
        let _ = writeln!(text, "    secret: {}", d.secret);
        if let Some(more) = extra.get(d.name.as_str()) {
            let _ = writeln!(text, "    groups: [{}]", more.join(", "));
        }
    };
    let devices = fleet.fleet.devices();
    let mut placed: Vec<&str> = Vec::new();
    for (group, _) in groups {
        let _ = writeln!(text, "{group}:");
        for d in devices
            .iter()
            .filter(|d| home.get(d.name.as_str()) == Some(group))
        {
            entry(&mut text, d);
            placed.push(&d.name);
        }
    }
    let rest: Vec<&DeviceSpec> = devices
        .iter()
        .filter(|d| !placed.contains(&d.name.as_str()))
        .collect();
    if !rest.is_empty() {
        text.push_str("ungrouped:\n");
        for d in rest {
            entry(&mut text, d);
        }
    }
    write_file(fleet.dir.path(), "grouped.yaml", &text)
}

fn sessions_of(spans: &[SessionSpan], devices: &[&str]) -> Vec<SessionSpan> {
    spans
        .iter()
        .filter(|s| devices.contains(&s.device.as_str()))
        .cloned()
        .collect()
}

/// The most sessions open at once among `spans`, each counted as ending `slack` before the
/// simulator noticed (a client's close reaches the server a moment after the client moved on).
fn peak_open(spans: &[SessionSpan], slack: Duration) -> usize {
    spans
        .iter()
        .map(|s| {
            spans
                .iter()
                .filter(|o| {
                    let ends = o.closed.expect("every session ended").saturating_sub(slack);
                    o.accepted <= s.accepted && ends > s.accepted
                })
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Device names with a record in the journal (header skipped).
fn journal_devices(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["device"].as_str().map(str::to_owned))
        .collect()
}

fn connections(fleet: &TestFleet, name: &str) -> u64 {
    fleet.fleet.counters(name).unwrap().connections
}

#[test]
fn connect_rate_paces_new_sessions_in_both_pools_retries_included() {
    const RATE: usize = 25;
    for pool in ["processes", "threads"] {
        // 40 devices, 5 of which drop their first connection: 45 sessions, the 5 retries
        // paced like the rest.
        let mut devices = healthy("r", 40, 0);
        for d in devices.iter_mut().step_by(8) {
            d.behaviour.faults = vec![Fault::Flaky(1)];
        }
        let fleet = TestFleet::start(devices);
        let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--no-journal"]);
        cmd.args(["--pool", pool, "-w", "16", "--retries", "1"])
            .args(["--connect-rate", &RATE.to_string()]);
        let out = run_with_limit(cmd, LIMIT);
        assert_eq!(out.code(), Some(0), "{pool}: {}", out.stderr);

        let spans = fleet.fleet.sessions();
        assert_eq!(spans.len(), 45, "{pool}: one session per attempt");
        let accepted: Vec<Duration> = spans.iter().map(|s| s.accepted).collect();
        // A ceiling in every one-second window (10 % and one session of slack for the
        // time a worker takes to connect), and a floor on the whole span: 44 gaps of 40 ms.
        for (i, start) in accepted.iter().enumerate() {
            let within = accepted[i..]
                .iter()
                .take_while(|t| **t < *start + Duration::from_secs(1))
                .count();
            assert!(
                within <= RATE + RATE / 10 + 1,
                "{pool}: {within} sessions in the second from {start:?}"
            );
        }
        let span = *accepted.last().unwrap() - accepted[0];
        assert!(
            span >= Duration::from_secs_f64(44.0 / RATE as f64 * 0.9),
            "{pool}: 45 sessions within {span:?}"
        );
    }
}

#[test]
fn max_per_group_limits_each_group_while_the_others_go_on() {
    // Each `show` waits 300 ms, so sessions of one group would overlap if allowed to.
    let mut devices = healthy("a", 6, 300);
    devices.extend(healthy("b", 6, 300));
    devices.push(ios("ab1", vec![], 300));
    let mut fleet = TestFleet::start(devices);
    let a: Vec<String> = (1..=6).map(|i| format!("a{i:02}")).collect();
    let b: Vec<String> = (1..=6).map(|i| format!("b{i:02}")).collect();
    let mut a_all: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut b_all: Vec<&str> = b.iter().map(String::as_str).collect();
    // ab1 is in both groups and counts against each.
    a_all.push("ab1");
    b_all.push("ab1");
    fleet.inventory = grouped_inventory(&fleet, &[("site-a", &a_all), ("site-b", &b_all)]);

    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--no-journal"]);
    cmd.args(["-w", "13", "--max-per-group", "2", "--format", "jsonl"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(json_lines(&out.stdout).len(), 13);

    let spans = fleet.fleet.sessions();
    assert_eq!(spans.len(), 13);
    let slack = Duration::from_millis(100);
    for (group, members) in [("site-a", &a_all), ("site-b", &b_all)] {
        let open = peak_open(&sessions_of(&spans, members), slack);
        assert_eq!(open, 2, "{group}: {open} devices at once");
    }
    // site-a's third device waits for a place; site-b's first, later in the inventory,
    // does not wait behind it.
    let first = |name: &str| spans.iter().find(|s| s.device == name).unwrap().accepted;
    assert!(first("b01") < first("a03"), "{spans:#?}");
}

#[test]
fn a_transient_aaa_failure_is_retried_and_a_wrong_password_never_is() {
    let fleet = TestFleet::start(vec![
        ios("aaa1", vec![Fault::AaaFlaky(1)], 0),
        ios("aaa2", vec![Fault::AaaFlaky(2)], 0),
        ios("wrong", vec![Fault::Auth], 0),
        ios("fine", vec![], 0),
    ]);
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--no-journal"]);
    cmd.args(["--format", "jsonl", "--retries", "2"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let records = json_lines(&out.stdout);
    let record = |name: &str| {
        records
            .iter()
            .find(|r| r["device"] == name)
            .unwrap()
            .clone()
    };

    let aaa2 = record("aaa2");
    assert_eq!(aaa2["status"], "ok", "{aaa2}");
    assert_eq!(aaa2["attempt"], 3);
    for earlier in aaa2["previous_attempts"].as_array().unwrap() {
        assert_eq!(earlier["status"], "connection_lost", "{earlier}");
        assert_eq!(earlier["stage"], "auth", "{earlier}");
        assert!(earlier["message"].as_str().unwrap().contains("AAA server"));
    }
    assert_eq!(record("aaa1")["attempt"], 2);
    let wrong = record("wrong");
    assert_eq!(
        (&wrong["status"], &wrong["attempt"]),
        (&"auth_failed".into(), &1.into())
    );
    assert!(wrong.get("previous_attempts").is_none(), "{wrong}");
    let counters = fleet.fleet.counters("wrong").unwrap();
    assert_eq!((counters.connections, counters.auth_failed), (1, 1));
    assert_eq!(fleet.fleet.counters("aaa2").unwrap().aaa_unavailable, 2);
}

#[test]
fn a_failed_canary_stops_with_exit_3_and_the_resume_sweeps_exactly_the_rest() {
    let mut devices = healthy("r", 12, 0);
    devices[1].behaviour.faults = vec![Fault::Auth];
    let fleet = TestFleet::start(devices);
    let journal = fleet.dir.path().join("canary.jsonl");
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--canary", "3"]);
    cmd.arg("--journal").arg(&journal).args(["-w", "8"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(3), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("stopped: the canary failed: 1 of its 3 devices did not end ok (--canary 3)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("9 devices were not started"),
        "{}",
        out.stderr
    );
    let resume_line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("resume with: "))
        .unwrap_or_else(|| panic!("no resume command: {}", out.stderr));
    assert!(
        resume_line.ends_with("--canary 3 --rerun-failed"),
        "{resume_line}"
    );
    let first: HashSet<String> = journal_devices(&journal).into_iter().collect();
    assert_eq!(
        first,
        HashSet::from(["r01", "r02", "r03"].map(String::from))
    );
    for i in 4..=12 {
        assert_eq!(
            connections(&fleet, &format!("r{i:02}")),
            0,
            "r{i:02} was contacted"
        );
    }

    // The resume (no canary now) sweeps exactly the nine, contacting no canary again.
    let mut cmd = netsweep_run(&fleet, &["-w", "8"]);
    cmd.arg("--resume").arg(&journal);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(1), "r02 still fails: {}", out.stderr);
    let all = journal_devices(&journal);
    assert_eq!(all.len(), 12, "{all:?}");
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 12);
    for name in ["r01", "r02", "r03"] {
        assert_eq!(connections(&fleet, name), 1, "{name}");
    }
}

#[test]
fn a_canary_group_runs_first_and_lets_the_rest_go_when_all_are_ok() {
    let mut devices = healthy("edge", 8, 0);
    devices.extend(healthy("core", 2, 100));
    let mut fleet = TestFleet::start(devices);
    let edge: Vec<String> = (1..=8).map(|i| format!("edge{i:02}")).collect();
    let edge: Vec<&str> = edge.iter().map(String::as_str).collect();
    fleet.inventory =
        grouped_inventory(&fleet, &[("edge", &edge), ("core", &["core01", "core02"])]);

    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--no-journal"]);
    cmd.args(["-w", "10", "--canary-group", "core"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("canary: all 2 devices ok; sweeping the other 8"),
        "{}",
        out.stderr
    );
    let spans = fleet.fleet.sessions();
    assert_eq!(spans.len(), 10);
    let core_done = sessions_of(&spans, &["core01", "core02"])
        .iter()
        .map(|s| s.closed.unwrap())
        .max()
        .unwrap();
    // Every other device was contacted after both canaries were done with (with the slack
    // of the server noticing a close late).
    for s in sessions_of(&spans, &edge) {
        assert!(
            s.accepted + Duration::from_millis(100) >= core_done,
            "{} before the canary ended: {spans:#?}",
            s.device
        );
    }

    // A canary group that names nothing selected is a usage error, before anything starts.
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--no-journal"]);
    cmd.args(["--canary-group", "cor"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--canary-group cor: no selected device is in group cor (groups of the selected devices: core, edge)"),
        "{}",
        out.stderr
    );
    assert_eq!(fleet.fleet.sessions().len(), 10);
}

#[test]
fn max_failures_stops_dispatch_and_the_resume_continues_after_the_fix() {
    // 30 devices; r03…r08 refuse the password. Two at a time, the third failure stops it.
    let mut devices = healthy("r", 30, 50);
    for d in &mut devices[2..8] {
        d.behaviour.faults = vec![Fault::Auth];
    }
    let fleet = TestFleet::start(devices);
    let journal = fleet.dir.path().join("limit.jsonl");
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--max-failures", "10%"]);
    cmd.arg("--journal").arg(&journal).args(["-w", "2"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(3), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("devices failed, the --max-failures limit of 10% (3 devices)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("(add --rerun-failed to sweep the failed devices again too)"),
        "{}",
        out.stderr
    );
    let first = journal_devices(&journal);
    // Two at a time: the third failure lands with at most one device still running.
    assert!((5..=6).contains(&first.len()), "{first:?}");
    let failed_first = first
        .iter()
        .filter(|d| ("r03".."r09").contains(&d.as_str()));
    assert!((3..=4).contains(&failed_first.count()), "{first:?}");
    let recorded: HashSet<&String> = first.iter().collect();
    for d in fleet.fleet.devices() {
        let expected = u64::from(recorded.contains(&d.name));
        assert_eq!(connections(&fleet, &d.name), expected, "{}", d.name);
    }

    // The resume continues with the devices never started; finished ones are not contacted.
    let mut cmd = netsweep_run(&fleet, &["-w", "4"]);
    cmd.arg("--resume").arg(&journal);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let all = journal_devices(&journal);
    assert_eq!(all.len(), 30);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 30);
    for d in fleet.fleet.devices() {
        assert_eq!(connections(&fleet, &d.name), 1, "{}", d.name);
    }
}
