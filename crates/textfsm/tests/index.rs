//! CliTable's choice of templates through an index, and the merge of several templates,
//! as textfsm 2.1's CliTable does them.

use std::path::Path;

use netsweep_textfsm::{CliTable, Error};
use serde_json::{Value, json};

const INDEX: &str = "\
# A comment line, then the header.
Template, Hostname, Platform, Command

acme_show_version.textfsm, .*, acme, sh[[ow]] ver[[sion]]
acme_show_interfaces_brief.textfsm, .*, acme, sh[[ow]] int[[erfaces]] b[[rief]]
acme_show_interfaces.textfsm, .*, acme, sh[[ow]] int[[erfaces]]
acme_show_inventory.textfsm:acme_show_inventory_serials.textfsm, .*, acme, sh[[ow]] inv[[entory]]
acme_show_version_other.textfsm, .*, acme, show version
wide_show_clock.textfsm, .*, (acme|zenith), sh[[ow]] clock
this line has the wrong number of fields, and is skipped
";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write fixture");
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "index", INDEX);
    write(
        d,
        "acme_show_version.textfsm",
        "Value VERSION (\\S+)\n\nStart\n  ^Version ${VERSION}\n",
    );
    write(
        d,
        "acme_show_version_other.textfsm",
        "Value OTHER (\\S+)\n\nStart\n  ^Version ${OTHER}\n",
    );
    write(
        d,
        "acme_show_interfaces.textfsm",
        "Value NAME (\\S+)\n\nStart\n  ^${NAME} is -> Record\n",
    );
    write(
        d,
        "acme_show_interfaces_brief.textfsm",
        "Value BRIEF (\\S+)\n\nStart\n  ^${BRIEF}\\s+up -> Record\n",
    );
    write(
        d,
        "acme_show_inventory.textfsm",
        "Value Key NAME (\\S+)\nValue DESCR (.+)\n\nStart\n  ^NAME: ${NAME}, DESCR: ${DESCR} -> Record\n",
    );
    write(
        d,
        "acme_show_inventory_serials.textfsm",
        "Value Key NAME (\\S+)\nValue SN (\\S+)\n\nStart\n  ^${NAME} serial ${SN} -> Record\n",
    );
    write(
        d,
        "wide_show_clock.textfsm",
        "Value TIME (\\S+)\n\nStart\n  ^${TIME}\n",
    );
    dir
}

fn parse(table: &CliTable, platform: &str, command: &str, text: &str) -> Value {
    serde_json::to_value(
        table
            .parse(platform, command, text)
            .expect("parses")
            .records(),
    )
    .unwrap()
}

#[test]
fn completions_match_abbreviated_commands() {
    let dir = fixture();
    let table = CliTable::open(dir.path()).unwrap();
    for command in ["sh ver", "show version", "sho vers", "sh ver | include x"] {
        assert_eq!(
            table.templates_for("acme", command).unwrap(),
            ["acme_show_version.textfsm"],
            "{command}"
        );
    }
    assert_eq!(
        parse(&table, "acme", "sh ver", "Version 1.2\n"),
        json!([{"version": "1.2"}])
    );
}

#[test]
fn the_first_matching_row_wins() {
    let dir = fixture();
    let table = CliTable::open(dir.path()).unwrap();
    // `show version` also matches the later row; the earlier one wins.
    assert_eq!(
        table.templates_for("acme", "show version").unwrap(),
        ["acme_show_version.textfsm"]
    );
    // The longer command is listed first, so it wins over its prefix.
    assert_eq!(
        table
            .templates_for("acme", "show interfaces brief")
            .unwrap(),
        ["acme_show_interfaces_brief.textfsm"]
    );
    assert_eq!(
        table.templates_for("acme", "show int").unwrap(),
        ["acme_show_interfaces.textfsm"]
    );
}

#[test]
fn several_templates_merge_on_their_keys() {
    let dir = fixture();
    let table = CliTable::open(dir.path()).unwrap();
    let text = "NAME: fan1, DESCR: Fan tray\nNAME: psu1, DESCR: Power supply\npsu1 serial PS123\nfan1 serial FN456\nghost serial X\n";
    assert_eq!(
        parse(&table, "acme", "show inventory", text),
        json!([
            {"name": "fan1", "descr": "Fan tray", "sn": "FN456"},
            {"name": "psu1", "descr": "Power supply", "sn": "PS123"},
        ])
    );
}

#[test]
fn platform_fields_are_regexes_matched_at_the_start() {
    let dir = fixture();
    let table = CliTable::open(dir.path()).unwrap();
    // One row serves two platforms (an alias written as an alternation).
    assert_eq!(
        table.templates_for("zenith", "show clock").unwrap(),
        ["wide_show_clock.textfsm"]
    );
    assert_eq!(
        table.templates_for("acme", "show clock").unwrap(),
        ["wide_show_clock.textfsm"]
    );
    // Python's re.match anchors at the start only: `acme` matches `acme_ssh` too.
    assert_eq!(
        table.templates_for("acme_ssh", "show version").unwrap(),
        ["acme_show_version.textfsm"]
    );
    // But not the other way round.
    assert!(matches!(
        table.templates_for("acm", "show version"),
        Err(Error::NoTemplate { .. })
    ));
}

#[test]
fn no_matching_row_is_an_error_naming_platform_and_command() {
    let dir = fixture();
    let table = CliTable::open(dir.path()).unwrap();
    let error = table.parse("acme", "show bananas", "").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("\"acme\"") && message.contains("\"show bananas\""),
        "{message}"
    );
}

#[test]
fn a_missing_template_column_is_an_index_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "index", "Name, Platform, Command\nx, y, z\n");
    let error = CliTable::open(dir.path()).unwrap_err();
    assert!(error.to_string().contains("'Template' column"), "{error}");
}

#[test]
fn a_broken_template_is_reported_with_its_file_and_line() {
    let dir = fixture();
    write(
        dir.path(),
        "acme_show_version.textfsm",
        "Value VERSION (\\S+)\n\nStart\n  ^Version ${VERSON}\n",
    );
    let table = CliTable::open(dir.path()).unwrap();
    let message = table
        .parse("acme", "show version", "Version 1\n")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("acme_show_version.textfsm: line 4:"),
        "{message}"
    );
}
