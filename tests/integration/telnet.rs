//! Sweeps over telnet, end to end: the real binaries against a simulated telnet fleet, in both
//! pools: outcomes, the transport in every record, the clear-text warning said once, no
//! password anywhere, and deadlines. (A worker killed in a telnet session: supervision.rs.)

use std::time::Duration;

use netsweep_sim::{DEFAULT_PASSWORD, DEFAULT_SECRET, DeviceSpec, Fault, Platform, Transport};

use crate::harness::{TestFleet, json_lines, netsweep_run, run_with_limit};

const LIMIT: Duration = Duration::from_secs(60);

fn telnet(name: &str, platform: Platform, faults: Vec<Fault>) -> DeviceSpec {
    let mut d = DeviceSpec::new(name, platform);
    d.transport = Transport::Telnet;
    d.behaviour.faults = faults;
    d
}

#[test]
fn a_telnet_fleet_is_swept_in_both_pools_with_one_clear_text_warning_and_no_password() {
    let fleet = TestFleet::start(vec![
        telnet("r1", Platform::CiscoIos, vec![]),
        telnet("srv1", Platform::Linux, vec![]),
        telnet("wrong-password", Platform::CiscoIos, vec![Fault::Auth]),
        telnet("hung", Platform::CiscoIos, vec![Fault::HangAfterAuth]),
    ]);
    let inventory = std::fs::read_to_string(&fleet.inventory).unwrap();
    assert!(
        inventory.contains("device_type: cisco_ios_telnet"),
        "{inventory}"
    );
    for pool in ["threads", "processes"] {
        let journal = fleet.dir.path().join(format!("{pool}.jsonl"));
        let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--format", "jsonl", "-v"]);
        cmd.args([
            "--pool",
            pool,
            "--deadline",
            "3s",
            "--command-timeout",
            "2s",
        ])
        .arg("--journal")
        .arg(&journal);
        let out = run_with_limit(cmd, LIMIT);
        assert_eq!(out.code(), Some(1), "{pool}: {out:#?}");
        let records = json_lines(&out.stdout);
        let status = |name: &str| {
            let r = records
                .iter()
                .find(|r| r["device"] == name)
                .unwrap_or_else(|| panic!("{pool}: {name} missing"));
            assert_eq!(r["transport"], "telnet", "{r}");
            assert_eq!(r["port"], fleet.fleet.addr(name).unwrap().port(), "{r}");
            (
                r["status"].as_str().unwrap().to_string(),
                r["stage"].as_str().map(str::to_string),
            )
        };
        assert_eq!(status("r1"), ("ok".into(), None));
        // Not a Linux command: the shell says so.
        assert_eq!(status("srv1").0, "command_error");
        assert_eq!(status("wrong-password").0, "auth_failed");
        assert_eq!(status("hung"), ("timed_out".into(), Some("prompt".into())));
        let warnings: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("clear text"))
            .collect();
        assert_eq!(
            warnings,
            [
                "warning: 4 devices (r1, …) connect over telnet: passwords and everything else \
              cross the network in clear text; use SSH wherever the device offers it"
            ],
            "{pool}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("===>"), "-v trace: {}", out.stderr);
        let journaled = std::fs::read_to_string(&journal).unwrap();
        for text in [&out.stdout, &out.stderr, &journaled] {
            for secret in [DEFAULT_PASSWORD, DEFAULT_SECRET] {
                assert!(!text.contains(secret), "{pool}: {secret} leaked: {text}");
            }
        }
    }
}

#[test]
fn an_ssh_sweep_says_nothing_about_clear_text() {
    let fleet = TestFleet::start(vec![DeviceSpec::new("r1", Platform::CiscoIos)]);
    let out = run_with_limit(
        netsweep_run(&fleet, &["-c", "show clock", "--format", "jsonl"]),
        LIMIT,
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert!(!out.stderr.contains("clear text"), "{}", out.stderr);
    assert_eq!(json_lines(&out.stdout)[0]["transport"], "ssh");
}

#[test]
fn the_device_deadline_ends_a_hung_telnet_session_in_both_pools() {
    let mut hung = telnet("hung", Platform::CiscoIos, vec![Fault::HangMidOutput]);
    hung.behaviour.running_config_bytes = 100_000;
    let fleet = TestFleet::start(vec![hung]);
    for pool in ["threads", "processes"] {
        let mut cmd = netsweep_run(&fleet, &["-c", "show running-config", "--format", "jsonl"]);
        cmd.args([
            "--pool",
            pool,
            "--deadline",
            "2s",
            "--command-timeout",
            "60s",
        ]);
        let out = run_with_limit(cmd, LIMIT);
        assert_eq!(out.code(), Some(1), "{pool}: {out:#?}");
        let record = &json_lines(&out.stdout)[0];
        assert_eq!(record["status"], "timed_out", "{pool}: {record}");
        assert_eq!(record["stage"], "command", "{pool}: {record}");
        let partial = record["outputs"][0]["output"].as_str().unwrap();
        assert!(partial.starts_with("Building configuration"), "{pool}");
    }
}
