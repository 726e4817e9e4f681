//! `netsweep run --parse` against a simulated fleet, in both pools, with templates written
//! here for the simulator's `show version` (no network, no shared files): parsed rows in
//! the records beside the raw output, a table with chosen fields, and a template that
//! rejects one device's output while the others parse.

use std::path::Path;
use std::time::Duration;

use netsweep_sim::{DeviceSpec, Platform};

use crate::harness::{TestFleet, json_lines, netsweep_run, run_with_limit, write_file};

const LIMIT: Duration = Duration::from_secs(120);

/// An index and a `show version` template for the simulator's Cisco IOS devices; the
/// template rejects the device named `bad` (an Error rule on its uptime line).
fn templates(dir: &Path) {
    write_file(
        dir,
        "index",
        "Template, Hostname, Platform, Command\n\ncisco_ios_show_version.textfsm, .*, cisco_ios, sh[[ow]] ver[[sion]]\n",
    );
    write_file(
        dir,
        "cisco_ios_show_version.textfsm",
        "Value VERSION ([^ ,]+)\nValue HOSTNAME (\\S+)\nValue SERIAL (\\S+)\n\nStart\n  ^.*Software.*Version\\s+${VERSION},\n  ^bad\\s+uptime -> Error \"refused\"\n  ^${HOSTNAME}\\s+uptime\n  ^Processor board ID ${SERIAL}\n",
    );
}

fn fleet(names: &[&str]) -> TestFleet {
    TestFleet::start(
        names
            .iter()
            .map(|n| DeviceSpec::new(*n, Platform::CiscoIos))
            .collect(),
    )
}

#[test]
fn parsed_rows_ride_in_the_records_in_both_pools() {
    let fleet = fleet(&["r1", "r2", "bad"]);
    let dir = tempfile::tempdir().unwrap();
    templates(dir.path());
    for pool in ["processes", "threads"] {
        let done = run_with_limit(
            netsweep_run(
                &fleet,
                &[
                    "-c",
                    "show version",
                    "--parse",
                    "--templates",
                    dir.path().to_str().unwrap(),
                    "--pool",
                    pool,
                    "--format",
                    "jsonl",
                    "--no-journal",
                    "--no-progress",
                ],
            ),
            LIMIT,
        );
        assert_eq!(done.code(), Some(0), "{pool}: {}", done.stderr);
        let records = json_lines(&done.stdout);
        assert_eq!(records.len(), 3, "{pool}");
        for record in records {
            let output = &record["outputs"][0];
            assert!(
                output["output"]
                    .as_str()
                    .unwrap()
                    .contains("Cisco IOS Software"),
                "raw output kept"
            );
            let device = record["device"].as_str().unwrap();
            if device == "bad" {
                assert!(output.get("parsed").is_none(), "{pool}: {record}");
                let error = output["parse_error"].as_str().unwrap();
                assert!(
                    error.contains("refused") && error.contains("bad"),
                    "{pool}: {error}"
                );
            } else {
                let rows = output["parsed"].as_array().unwrap();
                assert_eq!(rows.len(), 1, "{pool}: {record}");
                assert_eq!(rows[0]["hostname"], device, "{pool}");
                assert!(
                    rows[0]["version"].as_str().unwrap().starts_with("15."),
                    "{pool}"
                );
                assert!(
                    rows[0]["serial"].as_str().unwrap().starts_with("FTX"),
                    "{pool}"
                );
            }
        }
    }
}

#[test]
fn table_with_fields_prints_one_line_per_device_and_unknown_fields_are_errors() {
    let fleet = fleet(&["r1", "r2"]);
    let dir = tempfile::tempdir().unwrap();
    templates(dir.path());
    let templates_dir = dir.path().to_str().unwrap();
    let base = [
        "-c",
        "show version",
        "--parse",
        "--templates",
        templates_dir,
        "--no-journal",
        "--no-progress",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--format",
        "table",
        "--fields",
        "hostname,version",
        "--order",
        "input",
    ]);
    let done = run_with_limit(netsweep_run(&fleet, &args), LIMIT);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    let lines: Vec<&str> = done.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["DEVICE", "HOSTNAME", "VERSION"]
    );
    assert_eq!(lines.len(), 3, "{}", done.stdout);
    assert!(
        lines[1].starts_with("r1") && lines[2].starts_with("r2"),
        "{}",
        done.stdout
    );

    let mut args = base.to_vec();
    args.extend(["--format", "csv", "--fields", "hostname,uptime"]);
    let done = run_with_limit(netsweep_run(&fleet, &args), LIMIT);
    assert_eq!(done.code(), Some(2), "{}", done.stderr);
    assert!(
        done.stderr.contains(
            "no parsed row has 'uptime'; the fields are: device, version, hostname, serial"
        ),
        "{}",
        done.stderr
    );
}

#[test]
fn table_format_without_parse_and_missing_templates_stop_before_any_device() {
    let fleet = fleet(&["r1"]);
    let done = run_with_limit(
        netsweep_run(
            &fleet,
            &["-c", "show version", "--format", "table", "--no-journal"],
        ),
        LIMIT,
    );
    assert_eq!(done.code(), Some(2));
    assert!(done.stderr.contains("add --parse"), "{}", done.stderr);
    let empty = tempfile::tempdir().unwrap();
    let done = run_with_limit(
        netsweep_run(
            &fleet,
            &[
                "-c",
                "show version",
                "--parse",
                "--templates",
                empty.path().to_str().unwrap(),
                "--no-journal",
            ],
        ),
        LIMIT,
    );
    assert_eq!(done.code(), Some(2));
    assert!(
        done.stderr.contains("no index file there"),
        "{}",
        done.stderr
    );
    assert_eq!(
        fleet.fleet.counters("r1").unwrap().connections,
        0,
        "no device contacted"
    );
}

#[test]
fn report_parse_parses_a_journal_without_contacting_devices() {
    let fleet = fleet(&["r1"]);
    let dir = tempfile::tempdir().unwrap();
    templates(dir.path());
    let journal = dir.path().join("run.jsonl");
    let journal = journal.to_str().unwrap();
    let done = run_with_limit(
        netsweep_run(
            &fleet,
            &[
                "-c",
                "show version",
                "--journal",
                journal,
                "--no-progress",
                "--format",
                "jsonl",
            ],
        ),
        LIMIT,
    );
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert!(
        json_lines(&done.stdout)[0]["outputs"][0]
            .get("parsed")
            .is_none()
    );
    let connections = fleet.fleet.counters("r1").unwrap().connections;
    let mut report = std::process::Command::new(crate::harness::bin("netsweep"));
    report.args([
        "report",
        journal,
        "--parse",
        "--templates",
        dir.path().to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    let done = run_with_limit(report, LIMIT);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    let record = &json_lines(&done.stdout)[0];
    assert_eq!(
        record["outputs"][0]["parsed"][0]["hostname"], "r1",
        "{record}"
    );
    assert_eq!(
        fleet.fleet.counters("r1").unwrap().connections,
        connections,
        "no device contacted"
    );
}
