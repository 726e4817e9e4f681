//! Configuration changes (`--config`) against the simulator's stateful IOS devices: lines
//! applied and read back, a refused line, save, diff, and a platform without a
//! configuration mode.

use netsweep_device::{SessionContext, run_job};
use netsweep_protocol::{ConfigChange, Outcome};
use netsweep_sim::Behaviour;
use netsweep_testkit::temp_dir;

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
