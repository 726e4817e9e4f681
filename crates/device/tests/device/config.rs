//! Configuration changes (`--config`) against the simulator's stateful devices: on IOS, lines
//! applied and read back, a refused line, save, diff, and a platform without a configuration
//! mode; on Junos, a commit and a refused line that discards the candidate; on Huawei, a save
//! that asks `[Y/N]`.

use std::path::Path;

use netsweep_device::{SessionContext, run_job};
use netsweep_protocol::{ConfigChange, DeviceTarget, Job, Outcome, Secret};
use netsweep_sim::{Behaviour, DeviceSpec, Fleet, FleetSpec, Platform};
use netsweep_testkit::{job, temp_dir};

use crate::assert_outcome;
use crate::cisco_ios::{NAME, fleet, ios_job};

fn change(lines: &[&str]) -> ConfigChange {
    ConfigChange {
        lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        ..ConfigChange::default()
    }
}

#[test]
fn lines_are_applied_saved_and_visible_to_a_later_session() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut job = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    job.change = Some(ConfigChange {
        save: true,
        after: vec!["show privilege".into()],
        ..change(&[
            "ntp server 10.9.9.9",
            "interface Loopback9",
            "description set by netsweep",
        ])
    });
    let record = run_job(&job, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let report = record.change.as_ref().expect("a change report");
    assert_eq!(report.applied.len(), 3);
    assert!(report.saved && !report.committed && report.rejected.is_none());
    assert_eq!(report.ran, ["configure terminal", "end", "write memory"]);
    // `-c` before the change, `--after-command` after it, every line in between.
    let sent: Vec<&str> = record.outputs.iter().map(|o| o.command.as_str()).collect();
    assert_eq!(
        sent,
        [
            "show clock",
            "configure terminal",
            "ntp server 10.9.9.9",
            "interface Loopback9",
            "description set by netsweep",
            "end",
            "write memory",
            "show privilege"
        ]
    );
    let counters = fleet.counters(NAME).unwrap();
    assert_eq!((counters.config_lines, counters.saves), (3, 1));

    // A separate session reads the change back.
    let show = ios_job(&fleet, &spec, dir.path(), &["show running-config"]);
    let record = run_job(&show, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let running = &record.outputs[0].output;
    assert!(
        running
            .contains("\nntp server 10.9.9.9\ninterface Loopback9\n description set by netsweep\n"),
        "{running}"
    );
}

#[test]
fn a_refused_line_stops_the_change_with_config_error() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut job = ios_job(&fleet, &spec, dir.path(), &[]);
    job.change = Some(ConfigChange {
        save: true,
        ..change(&[
            "ntp server 10.1.1.1",
            "nttp server 10.2.2.2",
            "logging host 10.3.3.3",
        ])
    });
    let record = run_job(&job, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::ConfigError);
    let report = record.change.as_ref().unwrap();
    let rejected = report.rejected.as_ref().unwrap();
    assert_eq!(rejected.line, "nttp server 10.2.2.2");
    assert!(rejected.answer.contains("% Invalid input"), "{rejected:?}");
    assert_eq!(report.applied, ["ntp server 10.1.1.1"]);
    assert!(!report.saved, "a failed change is not saved");
    assert!(
        record.message.contains("\"nttp server 10.2.2.2\"")
            && record.message.contains("% Invalid input")
            && record.message.contains("1 line applied before it"),
        "{}",
        record.message
    );
    // Nothing after the refused line reached the device; configuration mode was left.
    assert_eq!(fleet.added_config(NAME).unwrap(), ["ntp server 10.1.1.1"]);
    assert_eq!(fleet.counters(NAME).unwrap().saves, 0);
    assert_eq!(report.ran, ["configure terminal", "end"]);
}

#[test]
fn diff_shows_the_running_configuration_change() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut job = ios_job(&fleet, &spec, dir.path(), &[]);
    job.change = Some(ConfigChange {
        diff: true,
        ..change(&["snmp-server community s3cret RO", "logging host 10.3.3.3"])
    });
    let record = run_job(&job, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let diff = record.change.unwrap().diff.expect("a diff");
    assert!(
        diff.starts_with("--- running-config before\n+++ running-config after\n"),
        "{diff}"
    );
    assert!(
        diff.contains("\n+snmp-server community s3cret RO\n+logging host 10.3.3.3\n"),
        "{diff}"
    );
    let removed: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .collect();
    // Only the size line of the header changes besides the added lines.
    assert!(
        removed
            .iter()
            .all(|l| l.starts_with("-Current configuration")),
        "{removed:?}"
    );
}

#[test]
fn check_on_a_platform_without_a_candidate_sends_nothing() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut job = ios_job(&fleet, &spec, dir.path(), &[]);
    job.change = Some(ConfigChange {
        check: true,
        ..change(&["ntp server 10.1.1.1"])
    });
    let record = run_job(&job, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let report = record.change.unwrap();
    assert!(report.check.unwrap().starts_with("not checked"));
    assert!(report.applied.is_empty() && report.ran.is_empty());
    assert_eq!(fleet.counters(NAME).unwrap().config_lines, 0);
}

/// One simulated device of the table platform `platform`, and a job for it running
/// `commands`.
fn device_of(platform: &str, dir: &Path, commands: &[&str]) -> (Fleet, DeviceSpec, Job) {
    let sim_platform = Platform::all()
        .find(|p| p.as_str() == platform)
        .expect("the simulator models the platform");
    let mut spec = DeviceSpec::new(format!("{platform}-1"), sim_platform);
    spec.hostname = spec.name.replace('_', "-");
    let fleet = Fleet::start(FleetSpec {
        seed: 13,
        devices: vec![spec.clone()],
    })
    .expect("start the simulated fleet");
    let job = again(&fleet, &spec, dir, commands);
    (fleet, spec, job)
}

/// A new job for a device of [`device_of`]'s fleet.
fn again(fleet: &Fleet, spec: &DeviceSpec, dir: &Path, commands: &[&str]) -> Job {
    let addr = fleet.addr(&spec.name).expect("device is in the fleet");
    let target = DeviceTarget {
        name: spec.name.clone(),
        host: addr.ip().to_string(),
        port: addr.port(),
        platform: spec.platform.as_str().into(),
        username: spec.username.clone(),
        password: Some(Secret::new(spec.password.clone())),
        secret: Some(Secret::new(spec.secret.clone())),
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
        transport: Default::default(),
    };
    job(target, commands, &dir.join("known_hosts"))
}

#[test]
fn junos_commits_and_a_refused_line_discards_the_candidate() {
    let dir = temp_dir();
    let (fleet, spec, mut first) = device_of("juniper_junos", dir.path(), &[]);
    let lines = [
        "set system ntp server 10.9.9.9",
        "set interfaces ge-0/0/1 description uplink-2",
    ];
    first.change = Some(change(&lines));
    let record = run_job(&first, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let report = record.change.as_ref().expect("a change report");
    assert_eq!(report.applied, lines);
    assert!(report.committed && !report.discarded && !report.saved);
    assert_eq!(
        report.ran,
        ["configure", "commit", "exit configuration-mode"]
    );
    let counters = fleet.counters(&spec.name).unwrap();
    assert_eq!((counters.config_lines, counters.commits), (2, 1));
    assert_eq!(fleet.added_config(&spec.name).unwrap(), lines);

    // A refused line: nothing of this change is committed, the candidate is rolled back.
    let mut second = again(&fleet, &spec, dir.path(), &[]);
    second.change = Some(change(&[
        "set system ntp server 10.8.8.8",
        "sett system syslog host 10.7.7.7",
    ]));
    let record = run_job(&second, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::ConfigError);
    assert!(
        record.message.contains("nothing committed"),
        "{}",
        record.message
    );
    let report = record.change.as_ref().expect("a change report");
    let rejected = report.rejected.as_ref().expect("a refused line");
    assert_eq!(rejected.line, "sett system syslog host 10.7.7.7");
    assert!(rejected.answer.contains("unknown command"), "{rejected:?}");
    assert!(report.discarded && !report.committed);
    assert_eq!(
        report.ran,
        ["configure", "rollback", "exit configuration-mode"]
    );
    let counters = fleet.counters(&spec.name).unwrap();
    assert_eq!((counters.config_lines, counters.commits), (2, 1));
    assert_eq!(fleet.added_config(&spec.name).unwrap(), lines);

    // The committed lines are in the running configuration a later session reads.
    let show = again(&fleet, &spec, dir.path(), &["@running-config"]);
    let record = run_job(&show, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let running = &record.outputs[0].output;
    assert!(
        running.contains("set system ntp server 10.9.9.9\n"),
        "{running}"
    );
    assert!(!running.contains("10.8.8.8"), "{running}");
}

#[test]
fn huawei_saves_answering_its_question_and_shows_the_lines_under_their_interface() {
    let dir = temp_dir();
    let (fleet, spec, mut first) = device_of("huawei", dir.path(), &[]);
    first.change = Some(ConfigChange {
        save: true,
        ..change(&[
            "undo info-center enable",
            "interface GigabitEthernet0/0/1",
            "description uplink-2",
        ])
    });
    let record = run_job(&first, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let report = record.change.as_ref().expect("a change report");
    assert_eq!(report.applied.len(), 3);
    assert!(report.saved && !report.committed && report.rejected.is_none());
    assert_eq!(report.ran, ["system-view", "return", "save"]);
    let save = record.outputs.last().expect("the save's output");
    assert_eq!(save.command, "save");
    assert!(
        save.output.contains("saved successfully"),
        "{}",
        save.output
    );
    let counters = fleet.counters(&spec.name).unwrap();
    assert_eq!((counters.config_lines, counters.saves), (3, 1));

    let show = again(&fleet, &spec, dir.path(), &["@running-config"]);
    let record = run_job(&show, &SessionContext::new(), &mut |_| {});
    assert_outcome(&record, Outcome::Ok);
    let running = &record.outputs[0].output;
    assert!(
        running.contains(
            "undo info-center enable\ninterface GigabitEthernet0/0/1\n description uplink-2\n"
        ),
        "{running}"
    );
}
