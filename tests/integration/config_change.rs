//! `netsweep run --config` against stateful simulated IOS devices: per-device templates,
//! a refused line, a missing variable, --save, --diff with `report --diff`, --dry-run
//! contacting nothing, and a change killed half way that resumes without applying anything
//! twice to a device that already has a record.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use netsweep_sim::{DeviceSpec, GenerateOptions, Platform};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{
    TestFleet, bin, json_lines, netsweep_run, poll_until, run_with_limit, write_file,
};

fn fleet(count: usize, latency: Duration) -> TestFleet {
    let devices: Vec<DeviceSpec> = netsweep_sim::FleetSpec::generate(&GenerateOptions {
        count,
        platforms: vec![Platform::CiscoIos],
        latency,
        seed: 9,
        ..Default::default()
    })
    .unwrap()
    .devices;
    TestFleet::start(devices)
}

/// Every device's running configuration, read by a separate `show` sweep.
fn running_configs(fleet: &TestFleet) -> HashMap<String, String> {
    let cmd = netsweep_run(
        fleet,
        &[
            "-c",
            "show running-config",
            "--format",
            "jsonl",
            "--pool",
            "threads",
            "--no-journal",
        ],
    );
    let shown = run_with_limit(cmd, Duration::from_secs(60));
    json_lines(&shown.stdout)
        .into_iter()
        .map(|r| {
            let output = r["outputs"][0]["output"].as_str().unwrap_or_default();
            (r["device"].as_str().unwrap().to_owned(), output.to_owned())
        })
        .collect()
}

fn by_device(records: &[serde_json::Value], name: &str) -> serde_json::Value {
    records
        .iter()
        .find(|r| r["device"] == name)
        .unwrap_or_else(|| panic!("no record for {name}"))
        .clone()
}

const CHANGE: &str = "\
snmp-server location rack-{{ name }}
logging host 10.0.0.{{ port % 200 }}
{% if name == \"sim0003\" %}nttp server 10.1.1.1
{% endif %}ntp server 10.2.2.2
";

#[test]
fn a_templated_change_is_applied_saved_and_diffed_and_a_refused_line_is_config_error() {
    let fleet = fleet(4, Duration::ZERO);
    let dir = fleet.dir.path();
    let change = write_file(dir, "change.j2", CHANGE);
    let outputs = dir.join("out");
    let mut cmd = netsweep_run(
        &fleet,
        &["--format", "jsonl", "--pool", "threads", "--save", "--diff"],
    );
    cmd.arg("--config")
        .arg(&change)
        .arg("--output-dir")
        .arg(&outputs)
        .arg("--journal")
        .arg(dir.join("change.jsonl"));
    let out = run_with_limit(cmd, Duration::from_secs(60));
    assert_eq!(out.code(), Some(1), "one device failed: {}", out.stderr);
    let records = json_lines(&out.stdout);
    assert_eq!(records.len(), 4);
    for name in ["sim0001", "sim0002", "sim0004"] {
        let r = by_device(&records, name);
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["change"]["applied"].as_array().unwrap().len(), 3);
        assert_eq!(r["change"]["saved"], true);
        let diff = r["change"]["diff"].as_str().unwrap();
        assert!(
            diff.contains(&format!("+snmp-server location rack-{name}\n")),
            "{diff}"
        );
        assert!(outputs.join(name).join("config.diff").exists());
        let counters = fleet.fleet.counters(name).unwrap();
        assert_eq!((counters.config_lines, counters.saves), (3, 1), "{name}");
    }
    let failed = by_device(&records, "sim0003");
    assert_eq!(failed["status"], "config_error", "{failed}");
    assert_eq!(failed["change"]["rejected"]["line"], "nttp server 10.1.1.1");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("\"nttp server 10.1.1.1\""),
        "{failed}"
    );
    assert_eq!(fleet.fleet.counters("sim0003").unwrap().saves, 0);
    assert!(out.stdout.contains("config_error") || out.stderr.contains("config_error"));

    // A separate `show` sweep reads the change back.
    let running = running_configs(&fleet).remove("sim0002").unwrap();
    assert!(
        running.contains("\nsnmp-server location rack-sim0002\n"),
        "{running}"
    );
    assert!(running.contains("\nntp server 10.2.2.2\n"), "{running}");

    // `report --diff` shows the kept diffs again.
    let mut report = std::process::Command::new(bin("netsweep"));
    report
        .arg("report")
        .arg(dir.join("change.jsonl"))
        .arg("--diff");
    let report = run_with_limit(report, Duration::from_secs(30));
    assert_eq!(report.code(), Some(0), "{}", report.stderr);
    assert!(
        report.stdout.contains("=== sim0001 (ok)"),
        "{}",
        report.stdout
    );
    assert!(report.stdout.contains("+snmp-server location rack-sim0004"));
    // On a platform without a candidate the lines before the refused one stay, and show.
    assert!(
        report
            .stdout
            .contains("=== sim0003 (config_error)\n--- running-config before"),
        "{}",
        report.stdout
    );
}

#[test]
fn a_missing_variable_fails_only_that_device_before_it_is_contacted() {
    let fleet = fleet(3, Duration::ZERO);
    let mut cmd = netsweep_run(
        &fleet,
        &["--format", "jsonl", "--pool", "threads", "--no-journal"],
    );
    cmd.args([
        "--config-line",
        "snmp-server contact {% if name == \"sim0002\" %}{{ site.contact }}{% else %}noc{% endif %}",
    ]);
    let out = run_with_limit(cmd, Duration::from_secs(60));
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let records = json_lines(&out.stdout);
    let failed = by_device(&records, "sim0002");
    assert_eq!(failed["status"], "config_error", "{failed}");
    assert!(
        failed["message"].as_str().unwrap().contains("undefined"),
        "{failed}"
    );
    assert_eq!(fleet.fleet.counters("sim0002").unwrap().connections, 0);
    for name in ["sim0001", "sim0003"] {
        assert_eq!(by_device(&records, name)["status"], "ok");
        assert_eq!(fleet.fleet.counters(name).unwrap().config_lines, 1);
    }
}

#[test]
fn dry_run_prints_every_devices_lines_and_contacts_nothing() {
    let fleet = fleet(3, Duration::ZERO);
    let change = write_file(fleet.dir.path(), "change.j2", CHANGE);
    let mut cmd = netsweep_run(&fleet, &["--dry-run", "--save"]);
    cmd.arg("--config").arg(&change);
    let out = run_with_limit(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    for name in ["sim0001", "sim0002", "sim0003"] {
        assert!(
            out.stdout.contains(&format!(
                "# {name} (cisco_ios)\nsnmp-server location rack-{name}\n"
            )),
            "{}",
            out.stdout
        );
        // Not a TCP connection reached the simulator.
        assert_eq!(fleet.fleet.counters(name).unwrap().connections, 0);
    }
    assert!(out.stdout.contains("nttp server 10.1.1.1"));
}

/// Device names of the journal's complete record lines.
fn journal_devices(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .skip(1)
        .filter(|l| l.ends_with('\n'))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["device"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_change_killed_half_way_resumes_without_applying_twice_to_finished_devices() {
    let fleet = fleet(40, Duration::from_millis(30));
    let dir = fleet.dir.path();
    let journal = dir.join("change.jsonl");
    let lines = [
        "ntp server 10.0.0.1",
        "ntp server 10.0.0.2",
        "logging host 10.0.0.3",
        "snmp-server location {{ name }}",
        "service timestamps",
    ];
    let mut args: Vec<&str> = vec!["-w", "4", "--pool", "processes"];
    for line in &lines {
        args.extend(["--config-line", line]);
    }
    let mut cmd = netsweep_run(&fleet, &args);
    cmd.arg("--journal").arg(&journal);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    poll_until(Duration::from_secs(60), "8 records in the journal", || {
        journal_devices(&journal).len() >= 8
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    let first: HashSet<String> = journal_devices(&journal).into_iter().collect();
    assert!(first.len() < 40, "{} finished before the kill", first.len());

    // A resume without the change is refused rather than silently sweeping without it.
    let mut bare = netsweep_run(&fleet, &["-w", "8"]);
    bare.arg("--resume").arg(&journal);
    let bare = run_with_limit(bare, Duration::from_secs(30));
    assert_eq!(bare.code(), Some(2), "{}", bare.stderr);
    assert!(
        bare.stderr.contains("configuration change"),
        "{}",
        bare.stderr
    );

    let mut args: Vec<&str> = vec!["-w", "8", "--pool", "threads"];
    for line in &lines {
        args.extend(["--config-line", line]);
    }
    let mut cmd = netsweep_run(&fleet, &args);
    cmd.arg("--resume").arg(&journal);
    let out = run_with_limit(cmd, Duration::from_secs(120));
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let all = journal_devices(&journal);
    assert_eq!(all.len(), 40, "one final record per device");
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 40);
    for device in fleet.fleet.devices() {
        let applied = fleet.fleet.counters(&device.name).unwrap().config_lines;
        if first.contains(&device.name) {
            assert_eq!(
                applied, 5,
                "{} was changed again after its record",
                device.name
            );
        } else {
            // A device cut off mid-change gets the change again: at least once, whole.
            assert!(applied >= 5, "{}: {applied}", device.name);
        }
    }
}

/// The fleet's devices as a grouped inventory using `vars:` at every level: `defaults:`,
/// `group_vars:` (the `core` section and the extra group `lab`) and entries. `sim0003` has
/// no `location`.
fn inventory_with_vars(fleet: &TestFleet) -> std::path::PathBuf {
    let mut yaml = String::from(
        "defaults:
  device_type: cisco_ios
  vars: {ntp: 10.0.0.1, contact: noc}
group_vars:
  core: {ntp: 10.0.0.2}
  lab: {contact: lab-team, ntp: 10.0.0.3}
",
    );
    let extra = |name: &str| match name {
        "sim0001" => "    groups: [lab]\n    vars: {location: rack-1}\n",
        "sim0002" => "    vars: {location: rack-2, contact: desk}\n",
        "sim0003" => "",
        _ => "    vars: {location: rack-4}\n",
    };
    for (i, d) in fleet.fleet.devices().iter().enumerate() {
        if i == 0 {
            yaml.push_str("core:\n");
        } else if i == 2 {
            yaml.push_str("edge:\n");
        }
        yaml.push_str(&format!(
            "  - name: {}\n    host: '{}'\n    port: {}\n    username: '{}'\n    password: '{}'\n    secret: '{}'\n{}",
            d.name,
            d.addr.ip(),
            d.addr.port(),
            d.username,
            d.password,
            d.secret,
            extra(&d.name)
        ));
    }
    write_file(fleet.dir.path(), "vars.yaml", &yaml)
}

const VARS_CHANGE: &str = "\
snmp-server location {{ location }}
snmp-server contact {{ vars.contact }}
ntp server {{ ntp }}
";

#[test]
fn inventory_vars_render_per_device_and_a_device_lacking_one_is_config_error() {
    let fleet = fleet(4, Duration::ZERO);
    let dir = fleet.dir.path();
    let inventory = inventory_with_vars(&fleet);
    let change = write_file(dir, "vars.j2", VARS_CHANGE);
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(bin("netsweep"));
        cmd.arg("run")
            .arg("--inventory")
            .arg(&inventory)
            .arg("--known-hosts")
            .arg(&fleet.known_hosts)
            .arg("--config")
            .arg(&change)
            .args(extra);
        run_with_limit(cmd, Duration::from_secs(60))
    };

    // Dry run: entry > later group > earlier group > defaults, and nothing contacted.
    let out = run(&["--dry-run"]);
    assert_eq!(
        out.code(),
        Some(1),
        "one device cannot render: {}",
        out.stderr
    );
    for expected in [
        // `lab` (listed after `core`) wins over `core`, the entry's location over nothing.
        "# sim0001 (cisco_ios)\nsnmp-server location rack-1\nsnmp-server contact lab-team\nntp server 10.0.0.3\n",
        // The entry's own contact over the defaults', `core`'s ntp over the defaults'.
        "# sim0002 (cisco_ios)\nsnmp-server location rack-2\nsnmp-server contact desk\nntp server 10.0.0.2\n",
        // No group vars: the defaults'.
        "# sim0004 (cisco_ios)\nsnmp-server location rack-4\nsnmp-server contact noc\nntp server 10.0.0.1\n",
    ] {
        assert!(out.stdout.contains(expected), "{}", out.stdout);
    }
    assert!(
        out.stdout
            .contains("# sim0003 (cisco_ios): config_error: undefined value"),
        "{}",
        out.stdout
    );
    for d in fleet.fleet.devices() {
        assert_eq!(fleet.fleet.counters(&d.name).unwrap().connections, 0);
    }

    // The real change: sim0003 fails uncontacted, the others apply their own lines.
    let out = run(&["--format", "jsonl", "--pool", "threads", "--no-journal"]);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let records = json_lines(&out.stdout);
    let failed = by_device(&records, "sim0003");
    assert_eq!(failed["status"], "config_error", "{failed}");
    assert!(
        failed["message"].as_str().unwrap().contains("undefined"),
        "{failed}"
    );
    assert_eq!(fleet.fleet.counters("sim0003").unwrap().connections, 0);
    for name in ["sim0001", "sim0002", "sim0004"] {
        let r = by_device(&records, name);
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(
            fleet.fleet.counters(name).unwrap().config_lines,
            3,
            "{name}"
        );
    }

    // A separate `show` sweep reads the var-rendered lines back.
    let mut shown = running_configs(&fleet);
    for (name, lines) in [
        ("sim0001", ["rack-1", "lab-team", "10.0.0.3"]),
        ("sim0002", ["rack-2", "desk", "10.0.0.2"]),
        ("sim0004", ["rack-4", "noc", "10.0.0.1"]),
    ] {
        let running = &shown[name];
        let [location, contact, ntp] = lines;
        for line in [
            format!("\nsnmp-server location {location}\n"),
            format!("\nsnmp-server contact {contact}\n"),
            format!("\nntp server {ntp}\n"),
        ] {
            assert!(running.contains(&line), "{name}: {line:?} not in {running}");
        }
    }
    let untouched = shown.remove("sim0003").unwrap();
    assert!(!untouched.contains("snmp-server location"), "{untouched}");
}
