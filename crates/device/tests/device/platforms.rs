//! Every network platform of the table against its simulator model, the same checks for each:
//! login, privileged mode where it has one, paging off, a multi-page command (paging off, and
//! the pager answered when it stays on), named commands, an unknown command as a
//! `command_error` naming it, every fault class, and autodetect.

use std::thread;
use std::time::Duration;

use netsweep_device::{SessionContext, run_job_with_platform};
use netsweep_platform::Platform as TablePlatform;
use netsweep_protocol::{DeviceRecord, DeviceTarget, NamedCommand, Outcome, Secret, Stage};
use netsweep_sim::{Behaviour, DeviceSpec, Fault, Fleet, FleetSpec, Platform, expected_outcome};
use netsweep_testkit::{poll_until, temp_dir};

use crate::{assert_outcome, job, run};

/// Every simulated platform driven through a CLI (Linux has its own tests).
fn cli_platforms() -> Vec<Platform> {
    Platform::all().filter(|p| p.is_cli()).collect()
}

fn table(platform: Platform) -> &'static TablePlatform {
    netsweep_platform::builtin()
        .get(platform.as_str())
        .expect("every simulated platform is in the table")
}

fn start(devices: Vec<DeviceSpec>) -> Fleet {
    Fleet::start(FleetSpec { seed: 11, devices }).expect("start the simulated fleet")
}

fn target(fleet: &Fleet, spec: &DeviceSpec, platform: &str) -> DeviceTarget {
    let addr = fleet.addr(&spec.name).expect("device is in the fleet");
    DeviceTarget {
        name: spec.name.clone(),
        host: addr.ip().to_string(),
        port: addr.port(),
        platform: platform.into(),
        username: spec.username.clone(),
        password: Some(Secret::new(spec.password.clone())),
        secret: Some(Secret::new(spec.secret.clone())),
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
        transport: Default::default(),
    }
}

/// A device of `platform` named after it, with `behaviour`.
fn device(platform: Platform, suffix: &str, behaviour: Behaviour) -> DeviceSpec {
    let mut spec = DeviceSpec::new(format!("{}-{suffix}", platform.as_str()), platform);
    spec.hostname = spec.name.replace('_', "-");
    spec.behaviour = behaviour;
    spec
}

/// A fleet with one device of each CLI platform, named `<platform>-<suffix>`.
fn one_of_each(suffix: &str, behaviour: Behaviour) -> (Fleet, Vec<DeviceSpec>) {
    let specs: Vec<DeviceSpec> = cli_platforms()
        .into_iter()
        .map(|p| device(p, suffix, behaviour.clone()))
        .collect();
    (start(specs.clone()), specs)
}

#[track_caller]
fn assert_clean(record: &DeviceRecord, platform: Platform) {
    let regexes = table(platform).regexes();
    for out in &record.outputs {
        let text = &out.output;
        let what = format!("{}: {:?}", record.device, out.command);
        assert!(!text.trim().is_empty(), "{what}: empty");
        assert!(!text.contains('\r'), "{what} kept a \\r");
        assert!(
            !text.contains('\u{1b}'),
            "{what} kept an ANSI escape: {text:?}"
        );
        assert!(!text.contains('\u{8}'), "{what} kept a backspace");
        for pager in [
            "--More--",
            "---- More ----",
            "---(more",
            "<--- More --->",
            "[Q quit",
        ] {
            assert!(!text.contains(pager), "{what} kept the pager: {text:?}");
        }
        assert!(!text.starts_with(&out.command), "{what}: echo kept");
        let last = text.trim_end().lines().last().unwrap_or_default();
        assert!(
            regexes.prompt(last.trim()).is_none(),
            "{what}: prompt kept: {last:?}"
        );
        assert!(
            !last.starts_with("{master"),
            "{what}: Junos context line kept"
        );
    }
}

const NAMED: [&str; 4] = ["@version", "@interfaces", "@running-config", "@clock"];

#[test]
fn every_platform_logs_in_runs_named_commands_and_pages_off() {
    let (fleet, specs) = one_of_each(
        "r1",
        Behaviour {
            running_config_bytes: 40_000,
            ..Default::default()
        },
    );
    let dir = temp_dir();
    for spec in &specs {
        let platform = spec.platform.as_str();
        let j = job(
            target(&fleet, spec, platform),
            &NAMED,
            &dir.path().join("kh"),
        );
        let (record, stages) = run(&j, &SessionContext::new());
        assert_outcome(&record, Outcome::Ok);
        assert_clean(&record, spec.platform);
        let names: Vec<Option<&str>> = record.outputs.iter().map(|o| o.name.as_deref()).collect();
        assert_eq!(
            names,
            [
                Some("version"),
                Some("interfaces"),
                Some("running-config"),
                Some("clock")
            ],
            "{platform}"
        );
        let sent: Vec<&str> = record.outputs.iter().map(|o| o.command.as_str()).collect();
        let commands = &table(spec.platform).spec().commands;
        assert_eq!(
            sent[0], commands["version"],
            "{platform}: the platform's own command"
        );
        // Privileged mode where the platform has one (IOS shows its configuration only there).
        assert_eq!(
            stages.contains(&Stage::Enable),
            table(spec.platform).spec().enable.is_some(),
            "{platform}: {stages:?}"
        );
        // A running configuration of 40,000 bytes is many pages: all of it arrived.
        let config = &record.outputs[2].output;
        assert!(config.len() > 30_000, "{platform}: {} bytes", config.len());
        assert!(
            config.contains(&spec.hostname),
            "{platform}: hostname in the configuration"
        );
        assert!(
            record.outputs[0]
                .output
                .contains(&fleet_serial_or_version(spec)),
            "{platform}: version output: {}",
            record.outputs[0].output
        );
    }
}

/// What every platform's version output shows of the device: the platform's software
/// version, as its model states it.
fn fleet_serial_or_version(spec: &DeviceSpec) -> String {
    match spec.platform.as_str() {
        "cisco_ios" => "15.7(3)M8",
        "cisco_nxos" => "9.3(8)",
        "cisco_xr" => "7.5.2",
        "arista_eos" => "4.27.3F",
        "juniper_junos" => "20.4R3.8",
        "huawei" => "5.160",
        "hp_comware" => "7.1.070",
        "mikrotik_routeros" => "7.12.1",
        "cisco_asa" => "9.16(3)19",
        other => panic!("no expected version for {other}"),
    }
    .to_owned()
}

#[test]
fn with_paging_left_on_the_pager_is_answered_and_the_output_is_the_same() {
    let (fleet, specs) = one_of_each(
        "paged",
        Behaviour {
            running_config_bytes: 20_000,
            ..Default::default()
        },
    );
    let dir = temp_dir();
    for spec in &specs {
        let platform = table(spec.platform);
        let mut paged = platform.spec().clone();
        paged.setup.clear();
        paged.username_suffix = None;
        if let Some(enable) = &mut paged.enable {
            enable.then.clear();
        }
        let paged = TablePlatform::from_spec(paged).unwrap();
        let j = job(
            target(&fleet, spec, platform.name()),
            &["@running-config"],
            &dir.path().join("kh"),
        );
        let with_pager = run_job_with_platform(&j, &SessionContext::new(), &paged, &mut |_| {});
        assert_outcome(&with_pager, Outcome::Ok);
        assert_clean(&with_pager, spec.platform);
        let (without, _) = run(&j, &SessionContext::new());
        assert_outcome(&without, Outcome::Ok);
        let strip = |r: &DeviceRecord| r.outputs[0].output.clone();
        // Time stamps in a configuration move; the rest must be identical.
        let lines = |s: String| -> Vec<String> {
            s.lines()
                .filter(|l| !l.contains(':') || l.starts_with(' '))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            lines(strip(&with_pager)),
            lines(strip(&without)),
            "{}: paged and unpaged outputs differ",
            spec.platform
        );
    }
}

#[test]
fn an_unknown_command_is_a_command_error_naming_it_and_the_session_goes_on() {
    let (fleet, specs) = one_of_each("bad", Behaviour::default());
    let dir = temp_dir();
    for spec in &specs {
        let platform = spec.platform.as_str();
        let j = job(
            target(&fleet, spec, platform),
            &["@clock", "frobnicate the widgets", "@clock"],
            &dir.path().join("kh"),
        );
        let (record, _) = run(&j, &SessionContext::new());
        assert_outcome(&record, Outcome::CommandError);
        assert_eq!(record.outputs.len(), 3, "{platform}: the session went on");
        assert!(
            record.message.contains("\"frobnicate the widgets\""),
            "{platform}: {}",
            record.message
        );
        assert!(record.outputs[1].error.is_some(), "{platform}");
        assert!(record.outputs[2].error.is_none(), "{platform}");
    }
}

/// Each fault class on each platform gives the outcome the simulator says a correct client
/// reports (`expected_outcome`, one rule for all platforms).
#[test]
fn every_fault_gives_its_expected_outcome_on_every_platform() {
    let faults = [
        Fault::Refuse,
        Fault::HangBanner,
        Fault::HangAfterAuth,
        Fault::HangMidOutput,
        Fault::DropMidOutput,
        Fault::Auth,
        Fault::EnableFail,
        Fault::Legacy,
        Fault::Garbage,
    ];
    let mut specs = Vec::new();
    for p in cli_platforms() {
        for fault in faults {
            if fault == Fault::EnableFail && !p.has_enable() {
                continue;
            }
            let mut spec = device(p, &fault.to_string(), Behaviour::default());
            spec.behaviour.faults = vec![fault];
            specs.push(spec);
        }
    }
    let fleet = start(specs.clone());
    let dir = temp_dir();
    let known_hosts = dir.path().join("kh");
    let results: Vec<(DeviceSpec, DeviceRecord)> = thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .map(|spec| {
                let mut j = job(
                    target(&fleet, spec, spec.platform.as_str()),
                    &["@running-config"],
                    &known_hosts,
                );
                j.timeouts.connect = Duration::from_secs(2);
                j.timeouts.command = Duration::from_secs(2);
                s.spawn(move || (spec.clone(), run(&j, &SessionContext::new()).0))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (spec, record) in results {
        let expected = expected_outcome(&spec);
        let stage = match record.outcome {
            Outcome::TimedOut { stage } | Outcome::ConnectionLost { stage } => {
                Some(stage.to_string())
            }
            _ => None,
        };
        assert_eq!(
            (record.outcome.class(), stage),
            (expected.outcome.as_str(), expected.stage.clone()),
            "{}: {}",
            spec.name,
            record.message
        );
    }
}

#[test]
fn a_changed_host_key_and_a_flaky_device_are_seen_on_every_platform() {
    let mut specs = Vec::new();
    for p in cli_platforms() {
        let mut changing = device(p, "rekeyed", Behaviour::default());
        changing.behaviour.faults = vec![Fault::HostkeyChange];
        let mut flaky = device(p, "flaky", Behaviour::default());
        flaky.behaviour.faults = vec![Fault::Flaky(1)];
        specs.extend([changing, flaky]);
    }
    let fleet = start(specs.clone());
    let dir = temp_dir();
    for spec in &specs {
        let j = job(
            target(&fleet, spec, spec.platform.as_str()),
            &["@clock"],
            &dir.path().join("kh"),
        );
        let first = run(&j, &SessionContext::new()).0;
        let second = run(&j, &SessionContext::new()).0;
        let expected = if spec.behaviour.has(Fault::HostkeyChange) {
            (Outcome::Ok, Outcome::HostKeyMismatch)
        } else {
            (
                Outcome::ConnectionLost {
                    stage: Stage::Handshake,
                },
                Outcome::Ok,
            )
        };
        assert_eq!((first.outcome, second.outcome), expected, "{}", spec.name);
    }
}

#[test]
fn a_junos_root_login_starts_the_cli_from_the_shell() {
    let mut spec = device(
        Platform::all()
            .find(|p| p.as_str() == "juniper_junos")
            .unwrap(),
        "root",
        Behaviour::default(),
    );
    spec.username = "root".into();
    let fleet = start(vec![spec.clone()]);
    let dir = temp_dir();
    let j = job(
        target(&fleet, &spec, "juniper_junos"),
        &["@version"],
        &dir.path().join("kh"),
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert!(record.outputs[0].output.contains("Junos: 20.4R3.8"));
    assert_clean(&record, spec.platform);
}

#[test]
fn a_named_command_a_platform_lacks_fails_that_device_before_it_is_contacted() {
    let spec = device(Platform::CiscoIos, "unmapped", Behaviour::default());
    let fleet = start(vec![spec.clone()]);
    let dir = temp_dir();
    let mut j = job(
        target(&fleet, &spec, "cisco_ios"),
        &["@clock", "@lldp"],
        &dir.path().join("kh"),
    );
    j.named_commands = vec![NamedCommand {
        name: "lldp".into(),
        default: None,
        platforms: [("juniper_junos".to_owned(), "show lldp neighbors".to_owned())].into(),
    }];
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::CommandError);
    assert!(stages.is_empty(), "{stages:?}");
    assert!(
        record.message.contains("\"@lldp\"") && record.message.contains("cisco_ios"),
        "{}",
        record.message
    );
    assert_eq!(fleet.counters(&spec.name).unwrap().connections, 0);
    // With a default, every platform has one.
    j.named_commands[0].default = Some("show clock".into());
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(record.outputs[1].name.as_deref(), Some("lldp"));
    assert_eq!(record.outputs[1].command, "show clock");
}

/// Autodetect finds every platform, and costs at most one command more than the known
/// device type (counted by the simulator).
#[test]
fn autodetect_finds_every_platform_within_one_extra_round_trip() {
    let specs: Vec<DeviceSpec> = Platform::all()
        .map(|p| device(p, "auto", Behaviour::default()))
        .collect();
    let fleet = start(specs.clone());
    let dir = temp_dir();
    // Commands the device has seen, once every channel opened so far has ended (the client
    // does not wait for the device to read its `exit`).
    let settled = |name: &str, channels: u64| {
        poll_until(Duration::from_secs(10), "the session to end", || {
            fleet.counters(name).unwrap().channels_done >= channels
        });
        fleet.counters(name).unwrap().commands
    };
    for spec in &specs {
        let platform = spec.platform.as_str();
        let commands: &[&str] = &["@version"];
        // Exec platforms open one channel per command, and autodetect one shell first.
        let (known_channels, auto_channels) = if spec.platform.is_cli() {
            (1, 1)
        } else {
            (1, 2)
        };
        let known = job(
            target(&fleet, spec, platform),
            commands,
            &dir.path().join("kh"),
        );
        assert_outcome(&run(&known, &SessionContext::new()).0, Outcome::Ok);
        let middle = settled(&spec.name, known_channels);
        let auto = job(
            target(&fleet, spec, "autodetect"),
            commands,
            &dir.path().join("kh"),
        );
        let (record, _) = run(&auto, &SessionContext::new());
        assert_outcome(&record, Outcome::Ok);
        let after = settled(&spec.name, known_channels + auto_channels);
        let before = 0;
        assert_eq!(record.platform, "autodetect");
        assert_eq!(
            record.platform_detected.as_deref(),
            Some(platform),
            "{}",
            spec.name
        );
        let (known_cost, auto_cost) = (middle - before, after - middle);
        assert!(
            auto_cost <= known_cost + 1,
            "{platform}: autodetect sent {auto_cost} commands, the known type {known_cost}"
        );
        assert_eq!(
            record.outputs[0].command,
            table(spec.platform).spec().commands["version"]
        );
    }
}
