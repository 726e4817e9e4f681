//! Every platform over telnet, against the simulator's telnet server: option negotiation,
//! login by the prompts, a wrong password, enable, paging, an unknown command, hangs, drops,
//! deadlines. (BusyBox's telnetd, code not written here, is in `busybox.rs`.)

use std::path::Path;
use std::time::Duration;

use netsweep_device::{SessionContext, run_job_with_platform};
use netsweep_protocol::{DeviceRecord, DeviceTarget, Job, Outcome, Secret, Stage, Transport};
use netsweep_sim::{Behaviour, DeviceSpec, Fault, Fleet, FleetSpec, Platform};
use netsweep_testkit::temp_dir;

use crate::{assert_outcome, job, run};

/// The platforms the simulator serves, each with a command that works on it, a command that
/// prints `running_config_bytes` of output, and one it does not know with the start of its
/// complaint.
const PLATFORMS: &[(Platform, &str, &str, (&str, &str))] = &[
    (
        Platform::CiscoIos,
        "show clock",
        "show running-config",
        ("show bogus thing", "% Invalid input"),
    ),
    (
        Platform::Linux,
        "hostname",
        "cat /var/log/syslog",
        (
            "no-such-command",
            "bash: no-such-command: command not found",
        ),
    ),
];

/// One simulated device over telnet, named after its platform.
fn fleet(platform: Platform, behaviour: Behaviour) -> (Fleet, DeviceSpec) {
    let mut spec = DeviceSpec::new(format!("{platform}-1").replace('_', "-"), platform);
    spec.transport = Transport::Telnet;
    spec.behaviour = behaviour;
    let fleet = Fleet::start(FleetSpec {
        seed: 11,
        devices: vec![spec.clone()],
    })
    .expect("start the simulated fleet");
    (fleet, spec)
}

fn target(fleet: &Fleet, spec: &DeviceSpec) -> DeviceTarget {
    let addr = fleet.addr(&spec.name).expect("the device is in the fleet");
    DeviceTarget {
        name: spec.name.clone(),
        host: addr.ip().to_string(),
        port: addr.port(),
        platform: spec.platform.as_str().into(),
        transport: Transport::Telnet,
        username: spec.username.clone(),
        password: Some(Secret::new(spec.password.clone())),
        secret: (spec.platform == Platform::CiscoIos).then(|| Secret::new(spec.secret.clone())),
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
    }
}

/// A telnet job; `dir`'s known_hosts is named but must never be touched (telnet has no host
/// keys).
fn telnet_job(fleet: &Fleet, spec: &DeviceSpec, dir: &Path, commands: &[&str]) -> Job {
    let mut j = job(target(fleet, spec), commands, &dir.join("known_hosts"));
    j.timeouts.command = Duration::from_secs(5);
    j
}

/// Runs `job` as a quick device would be swept: a short reply timeout for the faults that go
/// silent.
fn run_quick(mut j: Job) -> (DeviceRecord, Vec<Stage>) {
    j.timeouts.command = Duration::from_millis(1500);
    run(&j, &SessionContext::new())
}

#[track_caller]
fn assert_no_password(record: &DeviceRecord, password: &str) {
    let shown = format!("{record:?}");
    assert!(!shown.contains(password), "the password leaked: {shown}");
}

#[test]
fn every_platform_logs_in_by_its_prompts_and_runs_commands() {
    for &(platform, command, ..) in PLATFORMS {
        let (fleet, spec) = fleet(platform, Behaviour::default());
        let dir = temp_dir();
        let j = telnet_job(&fleet, &spec, dir.path(), &[command, command]);
        let (record, stages) = run(&j, &SessionContext::new());
        assert_outcome(&record, Outcome::Ok);
        assert_eq!(record.transport, Transport::Telnet);
        let mut expected = vec![Stage::Connect, Stage::Handshake, Stage::Auth, Stage::Prompt];
        if platform == Platform::CiscoIos {
            expected.push(Stage::Enable);
        }
        expected.extend([Stage::Command, Stage::Close]);
        assert_eq!(stages, expected, "{platform}");
        for out in &record.outputs {
            assert!(!out.output.is_empty(), "{platform}: {out:?}");
            assert!(!out.output.contains('\r'), "{platform}: {out:?}");
            assert!(
                !out.output.contains(command),
                "{platform}: echo kept: {out:?}"
            );
            assert!(
                !out.output.ends_with(['>', '#', '$']),
                "{platform}: {out:?}"
            );
        }
        if platform == Platform::Linux {
            assert_eq!(record.outputs[0].output, spec.name);
        }
        let counters = fleet.counters(&spec.name).unwrap();
        assert_eq!(
            (counters.connections, counters.auth_ok, counters.auth_failed),
            (1, 1, 0),
            "{platform}"
        );
        // The window netsweep reported when the device asked (NAWS): wide, and as tall as
        // NAWS allows, so that paging by window never bites.
        assert_eq!(counters.window, Some((510, 32_000)), "{platform}");
        assert!(!dir.path().join("known_hosts").exists());
        assert_no_password(&record, &spec.password);
    }
}

#[test]
fn enable_runs_as_over_ssh() {
    let (fleet, spec) = fleet(Platform::CiscoIos, Behaviour::default());
    let dir = temp_dir();
    let j = telnet_job(&fleet, &spec, dir.path(), &["show privilege"]);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(
        record.outputs[0].output.trim(),
        "Current privilege level is 15"
    );
    let mut no_secret = j.clone();
    no_secret.target.secret = None;
    let (record, _) = run(&no_secret, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(
        record.outputs[0].output.trim(),
        "Current privilege level is 1"
    );
}

#[test]
fn a_privilege_15_login_needs_no_enable() {
    let (fleet, spec) = fleet(
        Platform::CiscoIos,
        Behaviour {
            privilege15: true,
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let j = telnet_job(&fleet, &spec, dir.path(), &["show privilege"]);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(
        record.outputs[0].output.trim(),
        "Current privilege level is 15"
    );
}

#[test]
fn a_wrong_password_is_auth_failed_after_one_try() {
    for &(platform, command, ..) in PLATFORMS {
        let (fleet, spec) = fleet(platform, Behaviour::default());
        let dir = temp_dir();
        let mut j = telnet_job(&fleet, &spec, dir.path(), &[command]);
        j.target.password = Some(Secret::new("not-the-password"));
        let (record, _) = run(&j, &SessionContext::new());
        assert_outcome(&record, Outcome::AuthFailed);
        assert!(
            record
                .message
                .starts_with("auth: the device rejected user netsweep"),
            "{}",
            record.message
        );
        assert!(record.message.contains("telnet"), "{}", record.message);
        assert_no_password(&record, "not-the-password");
        // The login prompt came back once: netsweep did not guess again.
        let counters = fleet.counters(&spec.name).unwrap();
        assert_eq!(
            (counters.auth_ok, counters.auth_failed),
            (0, 1),
            "{platform}"
        );
    }
}

#[test]
fn the_auth_fault_is_auth_failed() {
    for &(platform, command, ..) in PLATFORMS {
        let (fleet, spec) = fleet(
            platform,
            Behaviour {
                faults: vec![Fault::Auth],
                ..Default::default()
            },
        );
        let dir = temp_dir();
        let j = telnet_job(&fleet, &spec, dir.path(), &[command]);
        assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::AuthFailed);
    }
}

#[test]
fn a_login_without_a_password_configured_is_auth_failed_without_sending_anything() {
    let (fleet, spec) = fleet(Platform::CiscoIos, Behaviour::default());
    let dir = temp_dir();
    let mut j = telnet_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.password = None;
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(
        record
            .message
            .contains("asks for a password and none is configured"),
        "{}",
        record.message
    );
    assert_eq!(fleet.counters(&spec.name).unwrap().auth_failed, 0);
}

#[test]
fn a_wrong_secret_and_the_enable_fail_fault_are_enable_failed() {
    let (fleet, spec) = fleet(Platform::CiscoIos, Behaviour::default());
    let dir = temp_dir();
    let mut j = telnet_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.secret = Some(Secret::new("wrong-secret"));
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::EnableFailed);
    assert_eq!(stages.last(), Some(&Stage::Enable));
    assert!(
        record.message.contains("% Access denied"),
        "{}",
        record.message
    );
    assert_no_password(&record, "wrong-secret");

    let (fleet, spec) = self::fleet(
        Platform::CiscoIos,
        Behaviour {
            faults: vec![Fault::EnableFail],
            ..Default::default()
        },
    );
    let j = telnet_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::EnableFailed);
}

#[test]
fn the_pager_is_answered_when_paging_stays_on() {
    let (fleet, spec) = fleet(
        Platform::CiscoIos,
        Behaviour {
            running_config_bytes: 40_000,
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let j = telnet_job(&fleet, &spec, dir.path(), &["show running-config"]);
    let mut spec = netsweep_platform::builtin()
        .get("cisco_ios")
        .unwrap()
        .spec()
        .clone();
    spec.setup.clear();
    let paged_platform = netsweep_platform::Platform::from_spec(spec).unwrap();
    let paged = run_job_with_platform(&j, &SessionContext::new(), &paged_platform, &mut |_| {});
    assert_outcome(&paged, Outcome::Ok);
    let unpaged = run(&j, &SessionContext::new()).0;
    assert_outcome(&unpaged, Outcome::Ok);
    let text = &paged.outputs[0].output;
    assert!(!text.contains("--More--") && !text.contains('\u{8}'));
    assert_eq!(text, &unpaged.outputs[0].output);
    assert!(text.contains("interface GigabitEthernet1/0/100\n"));
}

#[test]
fn a_two_megabyte_running_config_arrives_intact() {
    let (fleet, spec) = fleet(
        Platform::CiscoIos,
        Behaviour {
            running_config_bytes: 2_500_000,
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let j = telnet_job(&fleet, &spec, dir.path(), &["show running-config"]);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    let out = &record.outputs[0];
    assert!(!out.truncated && !out.non_utf8);
    crate::cisco_ios::assert_running_config_intact(&out.output);
}

#[test]
fn an_unknown_command_is_a_command_error_and_the_session_goes_on() {
    for &(platform, command, _, (unknown, complaint)) in PLATFORMS {
        let (fleet, spec) = fleet(platform, Behaviour::default());
        let dir = temp_dir();
        let j = telnet_job(&fleet, &spec, dir.path(), &[command, unknown, command]);
        let (record, _) = run(&j, &SessionContext::new());
        assert_outcome(&record, Outcome::CommandError);
        assert_eq!(record.outputs.len(), 3, "{platform}");
        let error = record.outputs[1].error.as_deref();
        assert!(
            error.is_some_and(|e| e.starts_with(complaint)),
            "{platform}: {:?}",
            record.outputs[1]
        );
        assert!(record.outputs[0].error.is_none() && record.outputs[2].error.is_none());
        assert!(record.message.contains(unknown), "{}", record.message);
    }
}

#[test]
fn a_device_gone_silent_times_out_in_the_stage_it_went_silent_in() {
    // No login prompt ever (netsweep sends returns meanwhile); no CLI prompt after the login.
    for (fault, stage) in [
        (Fault::HangBanner, Stage::Handshake),
        (Fault::HangAfterAuth, Stage::Prompt),
    ] {
        for &(platform, command, ..) in PLATFORMS {
            let (fleet, spec) = fleet(
                platform,
                Behaviour {
                    faults: vec![fault],
                    ..Default::default()
                },
            );
            let dir = temp_dir();
            let (record, stages) = run_quick(telnet_job(&fleet, &spec, dir.path(), &[command]));
            assert_outcome(&record, Outcome::TimedOut { stage });
            assert_eq!(stages.last(), Some(&stage), "{platform} {fault}");
        }
    }
}

#[test]
fn a_device_slow_to_ask_for_a_login_is_woken_by_a_return_and_logs_in() {
    // The simulated device says nothing for 1.5 s: netsweep sends a return after a second of
    // silence, which the device reads as an empty user name and asks again.
    let (fleet, spec) = fleet(
        Platform::CiscoIos,
        Behaviour {
            banner_delay: Duration::from_millis(1500),
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let (record, _) = run(
        &telnet_job(&fleet, &spec, dir.path(), &["show clock"]),
        &SessionContext::new(),
    );
    assert_outcome(&record, Outcome::Ok);
    let counters = fleet.counters(&spec.name).unwrap();
    assert_eq!((counters.auth_ok, counters.auth_failed), (1, 0));
}

#[test]
fn garbage_instead_of_a_prompt_is_a_protocol_error() {
    let (fleet, spec) = fleet(
        Platform::CiscoIos,
        Behaviour {
            faults: vec![Fault::Garbage],
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let (record, _) = run_quick(telnet_job(&fleet, &spec, dir.path(), &["show clock"]));
    assert_outcome(&record, Outcome::ProtocolError);
    assert!(record.message.starts_with("prompt: "), "{}", record.message);
}

#[test]
fn telnet_to_an_ssh_port_says_so_at_once() {
    let spec = DeviceSpec::new("ssh-only", Platform::CiscoIos);
    let fleet = Fleet::start(FleetSpec {
        seed: 11,
        devices: vec![spec.clone()],
    })
    .expect("start the simulated fleet");
    let dir = temp_dir();
    let mut j = telnet_job(&fleet, &spec, dir.path(), &["show clock"]);
    // Long enough that waiting for a login prompt would end as timed_out, not this.
    j.timeouts.command = Duration::from_secs(30);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::ProtocolError);
    assert!(
        record.message.starts_with("handshake: ")
            && record.message.contains("SSH banner (\"SSH-2.0-")
            && record.message.contains("it speaks SSH, not telnet"),
        "{}",
        record.message
    );
}

#[test]
fn hangs_and_drops_mid_output_keep_the_partial_output() {
    for &(platform, _, big, _) in PLATFORMS {
        for (fault, expected) in [
            (
                Fault::HangMidOutput,
                Outcome::TimedOut {
                    stage: Stage::Command,
                },
            ),
            (
                Fault::DropMidOutput,
                Outcome::ConnectionLost {
                    stage: Stage::Command,
                },
            ),
        ] {
            let (fleet, spec) = fleet(
                platform,
                Behaviour {
                    running_config_bytes: 200_000,
                    faults: vec![fault],
                    ..Default::default()
                },
            );
            let dir = temp_dir();
            let (record, _) = run_quick(telnet_job(&fleet, &spec, dir.path(), &[big]));
            assert_outcome(&record, expected);
            let [partial] = record.outputs.as_slice() else {
                panic!("{platform} {fault}: {:#?}", record.outputs)
            };
            assert!(partial.truncated, "{platform} {fault}");
            assert!(
                partial.output.len() > 50_000,
                "{platform} {fault}: {}",
                partial.output.len()
            );
        }
    }
}

#[test]
fn a_refusing_device_is_unreachable_and_a_flaky_one_works_on_the_next_try() {
    let (fleet, spec) = fleet(
        Platform::CiscoIos,
        Behaviour {
            faults: vec![Fault::Refuse],
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let j = telnet_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Unreachable);

    let (fleet, spec) = self::fleet(
        Platform::CiscoIos,
        Behaviour {
            faults: vec![Fault::Flaky(1)],
            ..Default::default()
        },
    );
    let j = telnet_job(&fleet, &spec, dir.path(), &["show clock"]);
    let (first, _) = run(&j, &SessionContext::new());
    assert_outcome(
        &first,
        Outcome::ConnectionLost {
            stage: Stage::Handshake,
        },
    );
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Ok);
}

#[test]
fn the_device_deadline_ends_a_session_with_its_partial_output() {
    let (fleet, spec) = fleet(
        Platform::CiscoIos,
        Behaviour {
            running_config_bytes: 200_000,
            faults: vec![Fault::HangMidOutput],
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let mut j = telnet_job(&fleet, &spec, dir.path(), &["show running-config"]);
    j.timeouts.command = Duration::from_secs(60);
    j.timeouts.deadline = Duration::from_millis(1500);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(
        &record,
        Outcome::TimedOut {
            stage: Stage::Command,
        },
    );
    assert!(
        record.message.contains("overall deadline of 1500 ms"),
        "{}",
        record.message
    );
    assert!(record.outputs[0].truncated);
}

#[test]
fn every_platform_of_the_table_runs_its_version_command_over_telnet() {
    // Telnet is a transport, not a platform: each model the simulator serves, reached by the
    // table's driver over telnet, logs in by its prompts and answers `@version`.
    for platform in Platform::all() {
        let (fleet, spec) = fleet(platform, Behaviour::default());
        let dir = temp_dir();
        let mut j = telnet_job(&fleet, &spec, dir.path(), &["@version"]);
        j.target.secret = Some(Secret::new(spec.secret.clone()));
        let (record, stages) = run(&j, &SessionContext::new());
        assert_outcome(&record, Outcome::Ok);
        assert_eq!(record.transport, Transport::Telnet, "{platform}");
        assert!(!stages.contains(&Stage::HostKey), "{platform}: {stages:?}");
        let out = &record.outputs[0];
        assert!(!out.output.trim().is_empty(), "{platform}: {out:?}");
        assert!(!out.output.contains('\r'), "{platform}: {out:?}");
    }
}
