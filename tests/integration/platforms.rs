//! Platforms through the real binaries: a fleet of every simulated platform swept with named
//! commands by both pools, user-defined platforms (a `--platforms` file, an inventory's
//! `platforms:`) carried to worker processes, `--commands` files, `autodetect`, and
//! `netsweep platforms`.

use std::process::Command;
use std::time::Duration;

use netsweep_sim::{DeviceSpec, Platform};

use crate::harness::{TestFleet, bin, json_lines, netsweep_run, run_with_limit, write_file};

const LIMIT: Duration = Duration::from_secs(120);

/// One device of every simulated platform, named after it.
fn every_platform() -> TestFleet {
    TestFleet::start(
        Platform::all()
            .map(|p| DeviceSpec::new(p.as_str(), p))
            .collect(),
    )
}

fn record<'r>(records: &'r [serde_json::Value], device: &str) -> &'r serde_json::Value {
    records
        .iter()
        .find(|r| r["device"] == device)
        .unwrap_or_else(|| panic!("no record for {device}"))
}

#[test]
fn a_fleet_of_every_platform_answers_the_same_named_commands_in_both_pools() {
    let fleet = every_platform();
    for pool in ["processes", "threads"] {
        let cmd = netsweep_run(
            &fleet,
            &[
                "-c", "@version", "-c", "@clock", "--format", "jsonl", "--pool", pool,
            ],
        );
        let out = run_with_limit(cmd, LIMIT);
        assert_eq!(out.code(), Some(0), "{pool}: {out:#?}");
        let records = json_lines(&out.stdout);
        assert_eq!(records.len(), Platform::all().count(), "{pool}");
        let table = netsweep_platform::builtin();
        for r in &records {
            let platform = r["platform"].as_str().unwrap();
            let commands = &table.get(platform).unwrap().spec().commands;
            let outputs = r["outputs"].as_array().unwrap();
            assert_eq!(outputs[0]["name"], "version", "{r}");
            assert_eq!(outputs[0]["command"], commands["version"].as_str(), "{r}");
            assert_eq!(outputs[1]["name"], "clock", "{r}");
            assert!(!outputs[1]["output"].as_str().unwrap().is_empty(), "{r}");
        }
    }
}

#[test]
fn an_unknown_named_command_is_a_usage_error_and_an_unmapped_one_fails_its_device_only() {
    let fleet = every_platform();
    let out = run_with_limit(netsweep_run(&fleet, &["-c", "@nonsense"]), LIMIT);
    assert_eq!(out.code(), Some(2), "{out:#?}");
    assert!(
        out.stderr
            .contains("unknown named command @nonsense (known: @clock, @interfaces, "),
        "{}",
        out.stderr
    );
    let commands = write_file(
        fleet.dir.path(),
        "commands.yaml",
        "lldp:\n  cisco_ios: show lldp neighbors\n  juniper: show lldp neighbors\n",
    );
    let cmd = netsweep_run(
        &fleet,
        &[
            "-c",
            "@lldp",
            "--commands",
            commands.to_str().unwrap(),
            "--format",
            "jsonl",
            "--no-journal",
        ],
    );
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(1), "{out:#?}");
    let records = json_lines(&out.stdout);
    // cisco_ios has no `show lldp` in the simulator: the device says so.
    assert_eq!(record(&records, "cisco_ios")["status"], "command_error");
    let huawei = record(&records, "huawei");
    assert_eq!(huawei["status"], "command_error");
    assert!(
        huawei["message"]
            .as_str()
            .unwrap()
            .contains("platform huawei has no command for it (the device was not contacted)"),
        "{huawei}"
    );
    assert_eq!(fleet.fleet.counters("huawei").unwrap().connections, 0);
    let bad = write_file(fleet.dir.path(), "bad.yaml", "lldp:\n  junos: show lldp\n");
    let cmd = netsweep_run(
        &fleet,
        &["-c", "@lldp", "--commands", bad.to_str().unwrap()],
    );
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{out:#?}");
    assert!(
        out.stderr
            .contains("bad.yaml:2:3: command @lldp: unknown platform \"junos\""),
        "{}",
        out.stderr
    );
}

/// A platform netsweep does not know, defined by the user, reaches worker processes as a
/// definition and drives the device; so does one defined in the inventory itself.
#[test]
fn user_defined_platforms_are_carried_to_the_workers() {
    let fleet = TestFleet::start(vec![
        DeviceSpec::new("edge-1", Platform::CiscoIos),
        DeviceSpec::new("edge-2", Platform::CiscoIos),
    ]);
    let inventory = std::fs::read_to_string(&fleet.inventory).unwrap();
    let mine = inventory.replacen("device_type: cisco_ios", "device_type: acme_edge", 1);
    let mine = mine.replacen("device_type: cisco_ios", "device_type: acme_core", 1);
    // A list has no room for `platforms:`: the grouped form does.
    let mine = format!(
        "platforms:\n  - name: acme_core\n    base: cisco_ios\n    commands: {{version: show inventory}}\nedge:\n{}",
        mine.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
    let inventory = write_file(fleet.dir.path(), "mine.yaml", &mine);
    let platforms = write_file(
        fleet.dir.path(),
        "platforms.yaml",
        "- name: acme_edge\n  base: cisco_ios\n  description: ACME edge routers\n  setup: [terminal length 0]\n",
    );
    let mut cmd = Command::new(bin("netsweep"));
    cmd.args(["run", "--inventory"])
        .arg(&inventory)
        .arg("--known-hosts")
        .arg(&fleet.known_hosts)
        .args(["--platforms", platforms.to_str().unwrap()])
        .args(["-c", "@version", "--format", "jsonl", "--no-journal"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let records = json_lines(&out.stdout);
    let edge = record(&records, "edge-1");
    assert_eq!(edge["platform"], "acme_edge");
    assert_eq!(edge["outputs"][0]["command"], "show version");
    let core = record(&records, "edge-2");
    assert_eq!(core["platform"], "acme_core");
    assert_eq!(core["outputs"][0]["command"], "show inventory");

    // The same file and inventory list both, marked as user-defined.
    let out = run_with_limit(
        {
            let mut c = Command::new(bin("netsweep"));
            c.args([
                "platforms",
                "--platforms",
                platforms.to_str().unwrap(),
                "-i",
            ])
            .arg(&inventory);
            c
        },
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(out.stdout.contains("acme_edge*"), "{}", out.stdout);
    assert!(out.stdout.contains("acme_core*"), "{}", out.stdout);

    // A bad definition stops the run before anything is swept, naming where it is.
    let bad = write_file(
        fleet.dir.path(),
        "bad-platforms.yaml",
        "- name: acme_edge\n  base: cisco_ios\n  pager: {prompt: '--More(--'}\n",
    );
    let mut cmd = Command::new(bin("netsweep"));
    cmd.args(["run", "--inventory"])
        .arg(&fleet.inventory)
        .args(["--platforms", bad.to_str().unwrap(), "-c", "show clock"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{out:#?}");
    assert!(
        out.stderr
            .contains("bad-platforms.yaml:3:19: platform acme_edge: pager.prompt: bad regex"),
        "{}",
        out.stderr
    );
}

#[test]
fn autodetect_records_the_platform_it_found() {
    let fleet = TestFleet::start(vec![
        DeviceSpec::new("vrp", "huawei".parse().unwrap()),
        DeviceSpec::new("mx", "juniper_junos".parse().unwrap()),
        DeviceSpec::new("asa", "cisco_asa".parse().unwrap()),
    ]);
    let inventory = std::fs::read_to_string(&fleet.inventory).unwrap();
    let auto = inventory
        .lines()
        .map(|l| {
            if l.starts_with("  device_type: ") {
                "  device_type: autodetect".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let inventory = write_file(fleet.dir.path(), "auto.yaml", &auto);
    let mut cmd = Command::new(bin("netsweep"));
    cmd.args(["run", "--inventory"])
        .arg(&inventory)
        .arg("--known-hosts")
        .arg(&fleet.known_hosts)
        .args(["-c", "@version", "--format", "jsonl", "--no-journal"]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let records = json_lines(&out.stdout);
    for (device, platform, command) in [
        ("vrp", "huawei", "display version"),
        ("mx", "juniper_junos", "show version"),
        ("asa", "cisco_asa", "show version"),
    ] {
        let r = record(&records, device);
        assert_eq!(r["platform"], "autodetect", "{r}");
        assert_eq!(r["platform_detected"], platform, "{r}");
        assert_eq!(r["outputs"][0]["command"], command, "{r}");
    }
}

#[test]
fn netsweep_platforms_lists_the_table_as_text_and_json() {
    let out = run_with_limit(
        {
            let mut c = Command::new(bin("netsweep"));
            c.arg("platforms");
            c
        },
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    for name in [
        "cisco_ios",
        "cisco_xe",
        "juniper_junos",
        "huawei_vrp",
        "/system resource print",
    ] {
        assert!(out.stdout.contains(name), "{name}: {}", out.stdout);
    }
    let out = run_with_limit(
        {
            let mut c = Command::new(bin("netsweep"));
            c.args(["platforms", "--format", "json"]);
            c
        },
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list.len(), netsweep_platform::builtin().platforms().len());
    let asa = list.iter().find(|p| p["name"] == "cisco_asa").unwrap();
    assert_eq!(asa["builtin"], true);
    assert_eq!(
        asa["modes"],
        serde_json::json!(["user", "privileged", "config"])
    );
    assert_eq!(asa["definition"]["enable"]["then"][0], "terminal pager 0");
    // A definition as printed is a valid --platforms entry once renamed.
    let mut copy = asa["definition"].clone();
    copy["name"] = "my_asa".into();
    copy["aliases"] = serde_json::json!([]);
    let yaml = serde_json::to_string(&vec![copy]).unwrap();
    netsweep_platform::builtin()
        .with_definitions(&yaml, std::path::Path::new("copy.yaml"))
        .expect("a printed definition reads back");
}

/// The ntc-templates subset vendored beside these tests (see its README).
fn ntc_templates() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/ntc-templates")
}

/// A parsed row's cell as text (a list cell, like Cisco's SERIAL, by its first item).
fn cell(row: &serde_json::Value, column: &str) -> String {
    match &row[column] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .first()
            .and_then(|i| i.as_str())
            .unwrap_or_default()
            .to_owned(),
        other => panic!("{column}: {other} in {row}"),
    }
}

/// Every platform's simulated version output parses with ntc-templates' own template for that
/// platform and command (found through the index, as netmiko finds it) into a row naming the
/// device's hostname, software version and serial, where the template has those columns.
#[test]
fn every_platforms_version_output_parses_with_ntc_templates() {
    let fleet = every_platform();
    let templates = ntc_templates();
    let commands = write_file(
        fleet.dir.path(),
        "serial.yaml",
        // Comware's and RouterOS's serial is not in their version output.
        "serial:\n  default: show clock\n  hp_comware: display device manuinfo\n  mikrotik_routeros: /system routerboard print\n",
    );
    let cmd = netsweep_run(
        &fleet,
        &[
            "-c",
            "@version",
            "-c",
            "@serial",
            "--commands",
            commands.to_str().unwrap(),
            "--parse",
            "--templates",
            templates.to_str().unwrap(),
            "--format",
            "jsonl",
            "--no-journal",
        ],
    );
    let out = run_with_limit(cmd, LIMIT);
    let records = json_lines(&out.stdout);
    // (platform, output index, hostname column, version column, serial column): None where
    // the template has no such column.
    type Columns = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let expected: &[(&str, usize, Columns)] = &[
        (
            "cisco_ios",
            0,
            (Some("hostname"), Some("version"), Some("serial")),
        ),
        (
            "cisco_nxos",
            0,
            (Some("hostname"), Some("os"), Some("serial")),
        ),
        ("cisco_xr", 0, (None, Some("version"), None)),
        (
            "arista_eos",
            0,
            (None, Some("image"), Some("serial_number")),
        ),
        (
            "juniper_junos",
            0,
            (Some("hostname"), Some("junos_version"), None),
        ),
        ("huawei", 0, (None, Some("vrp_version"), None)),
        ("hp_comware", 1, (None, None, Some("device_serial_number"))),
        ("mikrotik_routeros", 0, (None, Some("version"), None)),
        ("mikrotik_routeros", 1, (None, None, Some("serial_number"))),
        (
            "cisco_asa",
            0,
            (Some("hostname"), Some("version"), Some("serial")),
        ),
    ];
    for &(device, index, (hostname, version, serial)) in expected {
        let r = record(&records, device);
        let output = &r["outputs"][index];
        let rows = output["parsed"]
            .as_array()
            .unwrap_or_else(|| panic!("{device}: not parsed: {output}"));
        assert_eq!(rows.len(), 1, "{device}: {output}");
        let row = &rows[0];
        if let Some(column) = hostname {
            assert_eq!(cell(row, column), device, "{device}: {row}");
        }
        if let Some(column) = version {
            let v = cell(row, column);
            assert!(!v.is_empty(), "{device}: {column} empty in {row}");
            assert!(output["output"].as_str().unwrap().contains(&v), "{device}");
        }
        if let Some(column) = serial {
            assert!(
                !cell(row, column).is_empty(),
                "{device}: {column} empty in {row}"
            );
        }
    }
    // Every platform with an ntc-templates name is covered above.
    for p in Platform::all() {
        let has_ntc = netsweep_platform::builtin()
            .get(p.as_str())
            .is_some_and(|t| t.spec().ntc_platform.is_some());
        assert_eq!(
            has_ntc && p.as_str() != "linux",
            expected.iter().any(|e| e.0 == p.as_str()),
            "{p}"
        );
    }
}
