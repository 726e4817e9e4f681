//! `netsweep parse` and `netsweep templates list` on templates written here (no network, no
//! shared files): index choice, formats, `--fields` errors, template discovery and its error.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{Finished, bin, run_with_limit, write_file};

const LIMIT: Duration = Duration::from_secs(30);

pub(crate) const SHOW_VERSION: &str = "\
Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 15.0(2)SE11, RELEASE SOFTWARE (fc3)
core-1 uptime is 1 week, 2 days
System serial number            : FOC1234X0AB
";

pub(crate) fn templates(dir: &Path) {
    write_file(
        dir,
        "index",
        "Template, Hostname, Platform, Command\n\nacme_show_version.textfsm, .*, acme_ios, sh[[ow]] ver[[sion]]\n",
    );
    write_file(
        dir,
        "acme_show_version.textfsm",
        "Value VERSION ([^ ,]+)\nValue HOSTNAME (\\S+)\nValue SERIAL (\\S+)\n\nStart\n  ^.*Software.*Version\\s+${VERSION},\n  ^${HOSTNAME}\\s+uptime\n  ^System serial number\\s+:\\s+${SERIAL}\n  ^Error -> Error\n",
    );
}

/// `netsweep` with a clean environment for template discovery: no NET_TEXTFSM, a HOME and
/// data directory with nothing in them, and no python3 to ask.
pub(crate) fn netsweep(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("netsweep"));
    cmd.args(args)
        .env_remove("NET_TEXTFSM")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PATH", home.join("no-bin"));
    cmd
}

fn run(cmd: Command) -> Finished {
    run_with_limit(cmd, LIMIT)
}

#[test]
fn parse_chooses_the_template_from_the_index_and_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    templates(dir.path());
    let input = write_file(dir.path(), "sh_ver.txt", SHOW_VERSION);
    let templates = dir.path().to_str().unwrap();
    let done = run(netsweep(
        dir.path(),
        &[
            "parse",
            "--templates",
            templates,
            "--platform",
            "acme_ios",
            "--command",
            "sh ver",
            input.to_str().unwrap(),
        ],
    ));
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    let rows: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{"version": "15.0(2)SE11", "hostname": "core-1", "serial": "FOC1234X0AB"}])
    );
}

#[test]
fn parse_prints_tables_and_csv_with_chosen_fields() {
    let dir = tempfile::tempdir().unwrap();
    templates(dir.path());
    let input = write_file(dir.path(), "sh_ver.txt", SHOW_VERSION);
    let base = [
        "parse",
        "--platform",
        "acme_ios",
        "--command",
        "show version",
    ];
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        args.push(input.to_str().unwrap());
        let mut cmd = netsweep(dir.path(), &args);
        // Found through NET_TEXTFSM this time.
        cmd.env("NET_TEXTFSM", dir.path());
        run(cmd)
    };
    let table = with(&["--format", "table", "--fields", "hostname,version,serial"]);
    assert_eq!(table.code(), Some(0), "{}", table.stderr);
    assert_eq!(
        table.stdout,
        "HOSTNAME  VERSION      SERIAL\ncore-1    15.0(2)SE11  FOC1234X0AB\n"
    );
    let csv = with(&["--format", "csv", "--fields", "serial,hostname"]);
    assert_eq!(csv.stdout, "serial,hostname\nFOC1234X0AB,core-1\n");
    let wrong = with(&["--format", "table", "--fields", "hostname,serail"]);
    assert_eq!(wrong.code(), Some(2));
    assert!(
        wrong
            .stderr
            .contains("no parsed row has 'serail'; the fields are: version, hostname, serial"),
        "{}",
        wrong.stderr
    );
}

#[test]
fn parse_with_an_explicit_template_reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    templates(dir.path());
    let template = dir.path().join("acme_show_version.textfsm");
    let mut cmd = netsweep(
        dir.path(),
        &[
            "parse",
            "--template",
            template.to_str().unwrap(),
            "-",
            "--format",
            "csv",
        ],
    );
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(SHOW_VERSION.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "version,hostname,serial\n15.0(2)SE11,core-1,FOC1234X0AB\n"
    );
}

#[test]
fn output_the_template_rejects_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    templates(dir.path());
    let input = write_file(dir.path(), "bad.txt", "Error: something\n");
    let templates = dir.path().to_str().unwrap();
    let done = run(netsweep(
        dir.path(),
        &[
            "parse",
            "--templates",
            templates,
            "--platform",
            "acme_ios",
            "--command",
            "show version",
            input.to_str().unwrap(),
        ],
    ));
    assert_eq!(done.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("error action at rule line 9"),
        "{}",
        done.stderr
    );
}

#[test]
fn no_templates_anywhere_is_one_error_naming_the_places_and_how_to_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "sh_ver.txt", SHOW_VERSION);
    let done = run(netsweep(
        dir.path(),
        &[
            "parse",
            "--platform",
            "cisco_ios",
            "--command",
            "show version",
            input.to_str().unwrap(),
        ],
    ));
    assert_eq!(done.code(), Some(2));
    for place in [
        "--templates DIR (not given)",
        "$NET_TEXTFSM (not set)",
        "data/netsweep/ntc-templates",
        "ntc_templates package",
        "ntc-templates/ntc_templates/templates",
        "pip install ntc-templates",
    ] {
        assert!(
            done.stderr.contains(place),
            "missing {place:?} in:\n{}",
            done.stderr
        );
    }
}

#[test]
fn templates_list_shows_the_index_and_filters_by_platform() {
    let dir = tempfile::tempdir().unwrap();
    // Found in netsweep's data directory.
    let data = dir.path().join("data/netsweep/ntc-templates");
    std::fs::create_dir_all(&data).unwrap();
    templates(&data);
    let done = run(netsweep(
        dir.path(),
        &["templates", "list", "--platform", "acme_ios"],
    ));
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert_eq!(
        done.stdout,
        "PLATFORM  COMMAND               TEMPLATE\nacme_ios  sh[[ow]] ver[[sion]]  acme_show_version.textfsm\n"
    );
    let none = run(netsweep(
        dir.path(),
        &["templates", "list", "--platform", "nosuch"],
    ));
    assert_eq!(none.code(), Some(2));
    assert!(
        none.stderr.contains("no templates for platform 'nosuch'"),
        "{}",
        none.stderr
    );
}
