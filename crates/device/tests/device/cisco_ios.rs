//! `cisco_ios` devices over an interactive shell, against the project's simulator.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use netsweep_device::{SessionContext, run_job_with_platform};
use netsweep_platform::{Platform, PlatformSpec};
use netsweep_protocol::{DeviceRecord, DeviceTarget, Job, Outcome, Secret, Stage};
use netsweep_sim::Platform as SimPlatform;
use netsweep_sim::{Behaviour, DeviceSpec, Fault, Fleet, FleetSpec};
use netsweep_testkit::{temp_dir, unique_loopback_base};

use crate::{assert_outcome, job, run};

pub(crate) const NAME: &str = "r1";

/// One simulated IOS device named `r1` with the given behaviour.
pub(crate) fn fleet(behaviour: Behaviour) -> (Fleet, DeviceSpec) {
    let mut spec = DeviceSpec::new(NAME, SimPlatform::CiscoIos);
    spec.behaviour = behaviour;
    let fleet = Fleet::start(FleetSpec {
        seed: 7,
        devices: vec![spec.clone()],
    })
    .expect("start the simulated fleet");
    (fleet, spec)
}

fn target(fleet: &Fleet, spec: &DeviceSpec) -> DeviceTarget {
    let addr = fleet.addr(NAME).expect("r1 is in the fleet");
    DeviceTarget {
        name: NAME.into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        platform: "cisco_ios".into(),
        transport: Default::default(),
        username: spec.username.clone(),
        password: Some(Secret::new(spec.password.clone())),
        secret: Some(Secret::new(spec.secret.clone())),
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
    }
}

/// A job for r1 with a known_hosts file in `dir`.
pub(crate) fn ios_job(fleet: &Fleet, spec: &DeviceSpec, dir: &Path, commands: &[&str]) -> Job {
    job(target(fleet, spec), commands, &dir.join("known_hosts"))
}

fn run_with(platform: &Platform, job: &Job) -> DeviceRecord {
    run_job_with_platform(job, &SessionContext::new(), platform, &mut |_| {})
}

fn ios() -> &'static Platform {
    netsweep_platform::builtin().get("cisco_ios").unwrap()
}

/// cisco_ios as the table has it, changed by `change`.
fn ios_with(change: impl FnOnce(&mut PlatformSpec)) -> Platform {
    let mut spec = ios().spec().clone();
    change(&mut spec);
    Platform::from_spec(spec).unwrap()
}

#[track_caller]
fn assert_clean(record: &DeviceRecord) {
    for out in &record.outputs {
        let text = &out.output;
        assert!(!text.contains('\r'), "{:?} kept a \\r", out.command);
        assert!(
            !text.contains("--More--") && !text.contains('\u{8}'),
            "{text:?}"
        );
        assert!(!text.starts_with(&out.command), "echo kept in {text:?}");
        assert!(
            !text.ends_with("r1#") && !text.ends_with("r1>"),
            "prompt kept in {text:?}"
        );
    }
}

#[test]
fn enable_then_several_commands_in_one_session() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let j = ios_job(
        &fleet,
        &spec,
        dir.path(),
        &[
            "show privilege",
            "show clock",
            "show version",
            "show ip interface brief",
        ],
    );
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(
        stages,
        [
            Stage::Connect,
            Stage::Handshake,
            Stage::HostKey,
            Stage::Auth,
            Stage::Prompt,
            Stage::Enable,
            Stage::Command,
            Stage::Close
        ]
    );
    assert_clean(&record);
    let commands: Vec<&str> = record.outputs.iter().map(|o| o.command.as_str()).collect();
    assert_eq!(commands, j.commands);
    assert_eq!(
        record.outputs[0].output.trim(),
        "Current privilege level is 15"
    );
    assert!(
        record.outputs[2].output.contains("r1 uptime is"),
        "{:?}",
        record.outputs[2]
    );
    assert!(record.outputs[3].output.contains("Interface"));
    let t = &record.timings;
    assert!(t.prompt_ms.is_some() && t.enable_ms.is_some() && t.commands_ms.is_some());
    // One TCP connection for the whole session.
    assert_eq!(fleet.counters(NAME).unwrap().connections, 1);
}

#[test]
fn a_privilege_15_login_needs_no_enable() {
    let (fleet, spec) = fleet(Behaviour {
        privilege15: true,
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show privilege"]);
    j.target.secret = None;
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(
        record.outputs[0].output.trim(),
        "Current privilege level is 15"
    );
}

#[test]
fn without_a_secret_the_session_stays_in_user_mode() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show privilege"]);
    j.target.secret = None;
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(
        record.outputs[0].output.trim(),
        "Current privilege level is 1"
    );
}

#[test]
fn a_two_megabyte_running_config_arrives_intact() {
    let (fleet, spec) = fleet(Behaviour {
        running_config_bytes: 2_500_000,
        ..Default::default()
    });
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show running-config"]);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_clean(&record);
    let out = &record.outputs[0];
    assert!(!out.truncated && !out.non_utf8);
    assert_running_config_intact(&out.output);
}

/// The simulator states the configuration's size (counted with `\r\n` line ends) and numbers
/// its access ports 1, 2, 3…: any lost, doubled or reordered chunk breaks one or the other.
#[track_caller]
pub(crate) fn assert_running_config_intact(text: &str) {
    assert!(
        text.starts_with("Building configuration..."),
        "{:?}",
        &text[..80.min(text.len())]
    );
    assert!(
        text.ends_with("\nend"),
        "{:?}",
        &text[text.len().saturating_sub(80)..]
    );
    let (head, body) = text
        .split_once("bytes\n")
        .expect("a Current configuration line");
    let stated: usize = head
        .rsplit(": ")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .expect("a size");
    assert!(stated >= 2_000_000, "{stated}");
    let lines = body.lines().count();
    assert_eq!(body.len() + lines + 1, stated, "size with \\r\\n line ends");
    let mut expected_port = 1;
    for line in body.lines() {
        if let Some(port) = line.strip_prefix("interface GigabitEthernet1/0/") {
            assert_eq!(port, expected_port.to_string());
            expected_port += 1;
        }
    }
    assert!(expected_port > 1000);
}

#[test]
fn the_pager_is_answered_when_paging_stays_on() {
    let (fleet, spec) = fleet(Behaviour {
        running_config_bytes: 40_000,
        ..Default::default()
    });
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show running-config"]);
    let paged_platform = ios_with(|s| s.setup.clear());
    let paged = run_with(&paged_platform, &j);
    assert_outcome(&paged, Outcome::Ok);
    assert_clean(&paged);
    let unpaged = run_with(ios(), &j);
    assert_outcome(&unpaged, Outcome::Ok);
    assert_eq!(paged.outputs[0].output, unpaged.outputs[0].output);
    let text = &paged.outputs[0].output;
    assert!(text.contains("interface GigabitEthernet1/0/100\n"));
}

#[test]
fn an_invalid_command_is_a_command_error_and_the_session_goes_on() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let j = ios_job(
        &fleet,
        &spec,
        dir.path(),
        &["show clock", "show bogus thing", "show clock"],
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::CommandError);
    assert_eq!(record.outputs.len(), 3);
    let bad = &record.outputs[1];
    assert!(
        bad.output.contains('^'),
        "caret line kept: {:?}",
        bad.output
    );
    assert!(
        bad.error
            .as_deref()
            .is_some_and(|e| e.starts_with("% Invalid input")),
        "{bad:?}"
    );
    assert!(record.outputs[0].error.is_none() && record.outputs[2].error.is_none());
    assert!(
        record.message.contains("show bogus thing"),
        "{}",
        record.message
    );
    assert!(
        record.message.starts_with("command: "),
        "{}",
        record.message
    );
}

#[test]
fn a_wrong_password_is_auth_failed() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.password = Some(Secret::new("not-the-password"));
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::AuthFailed);
    assert_eq!(stages.last(), Some(&Stage::Auth));
    assert!(record.message.starts_with("auth: "), "{}", record.message);
    assert!(!record.message.contains("not-the-password"));
}

#[test]
fn a_password_login_does_not_first_ask_for_the_methods() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Ok);
    let counters = fleet.counters(NAME).unwrap();
    assert_eq!((counters.auth_ok, counters.method_queries), (1, 0));
}

#[test]
fn a_wrong_password_is_one_failed_login_not_one_per_method() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.password = Some(Secret::new("not-the-password"));
    let record = run(&j, &SessionContext::new()).0;
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(
        record.message.contains("tried password"),
        "{}",
        record.message
    );
    assert!(!record.message.contains("keyboard"), "{}", record.message);
    // The device offers password too: asked once, after the rejection, to tell the two apart.
    let counters = fleet.counters(NAME).unwrap();
    assert_eq!((counters.auth_failed, counters.method_queries), (1, 1));
}

#[test]
fn the_auth_fault_is_auth_failed() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::Auth],
        ..Default::default()
    });
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::AuthFailed);
}

#[test]
fn keyboard_interactive_is_answered_with_the_password() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let kbd_only = ios_with(|s| s.auth_methods = vec!["keyboard-interactive".into()]);
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run_with(&kbd_only, &j), Outcome::Ok);
    let mut wrong = j.clone();
    wrong.target.password = Some(Secret::new("nope"));
    let record = run_with(&kbd_only, &wrong);
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(
        record.message.contains("keyboard-interactive"),
        "{}",
        record.message
    );
}

#[test]
fn a_wrong_secret_is_enable_failed() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.secret = Some(Secret::new("wrong-secret"));
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::EnableFailed);
    assert_eq!(stages.last(), Some(&Stage::Enable));
    assert!(record.message.starts_with("enable: "), "{}", record.message);
    assert!(
        record.message.contains("% Access denied"),
        "{}",
        record.message
    );
    assert!(!record.message.contains("wrong-secret"));
    assert!(record.outputs.is_empty());
}

#[test]
fn the_enable_fail_fault_is_enable_failed() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::EnableFail],
        ..Default::default()
    });
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::EnableFailed);
}

#[test]
fn a_legacy_only_device_is_refused_by_default_naming_its_offer_and_the_setting() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::Legacy],
        ..Default::default()
    });
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::ProtocolError);
    assert_eq!(stages.last(), Some(&Stage::Handshake));
    let m = &record.message;
    assert!(
        m.starts_with("handshake: the device offers only key exchange diffie-hellman-group14-sha1; host key ssh-rsa; MAC hmac-sha1")
            && m.contains("legacy_algorithms: true")
            && m.contains("KexAlgorithms +diffie-hellman-group14-sha1")
            && m.contains("HostKeyAlgorithms +ssh-rsa"),
        "{m}"
    );
    // The first connection failed the handshake, the second read the device's offer.
    assert_eq!(fleet.counters(NAME).unwrap().connections, 2);
    assert_eq!(fleet.counters(NAME).unwrap().auth_ok, 0);
}

#[test]
fn a_legacy_crypto_device_is_reached_when_legacy_algorithms_are_allowed() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::Legacy],
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.ssh.algorithms.legacy = true;
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    assert!(known.contains(" ssh-rsa "), "{known}");
}

#[test]
fn ssh_config_style_algorithm_changes_reach_a_legacy_device_too() {
    use netsweep_protocol::AlgorithmList;
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::Legacy],
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    let algorithms = &mut j.target.ssh.algorithms;
    algorithms.kex = Some(AlgorithmList::parse("+diffie-hellman-group14-sha1").unwrap());
    algorithms.host_key = Some(AlgorithmList::parse("+ssh-rsa").unwrap());
    algorithms.macs = Some(AlgorithmList::parse("^hmac-sha1").unwrap());
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Ok);
    // A list that leaves out what the device needs is refused again.
    j.target.ssh.algorithms.macs = Some(AlgorithmList::parse("-hmac-sha1").unwrap());
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::ProtocolError);
    assert!(
        record.message.contains("MAC hmac-sha1"),
        "{}",
        record.message
    );
    assert!(
        !record.message.contains("key exchange"),
        "{}",
        record.message
    );
}

#[test]
fn a_hang_mid_output_times_out_in_command_with_the_partial_output() {
    let (fleet, spec) = fleet(Behaviour {
        running_config_bytes: 200_000,
        faults: vec![Fault::HangMidOutput],
        ..Default::default()
    });
    let dir = temp_dir();
    // The simulator hangs every `show` halfway, so the hung one is the first command.
    let mut j = ios_job(
        &fleet,
        &spec,
        dir.path(),
        &["show running-config", "show clock"],
    );
    j.timeouts.command = Duration::from_millis(1500);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(
        &record,
        Outcome::TimedOut {
            stage: Stage::Command,
        },
    );
    assert!(
        record.message.starts_with("command: "),
        "{}",
        record.message
    );
    let [partial] = record.outputs.as_slice() else {
        panic!(
            "only the hung command's partial output: {:#?}",
            record.outputs
        )
    };
    assert_eq!(partial.command, "show running-config");
    assert!(partial.truncated);
    assert!(partial.output.starts_with("Building configuration..."));
    assert!(partial.output.len() > 50_000, "{}", partial.output.len());
}

#[test]
fn a_drop_mid_output_is_connection_lost_with_the_partial_output() {
    let (fleet, spec) = fleet(Behaviour {
        running_config_bytes: 200_000,
        faults: vec![Fault::DropMidOutput],
        ..Default::default()
    });
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show running-config"]);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(
        &record,
        Outcome::ConnectionLost {
            stage: Stage::Command,
        },
    );
    let partial = &record.outputs[0];
    assert!(partial.truncated);
    assert!(partial.output.starts_with("Building configuration..."));
    assert!(partial.output.len() > 50_000, "{}", partial.output.len());
}

#[test]
fn a_silent_banner_times_out_in_handshake() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::HangBanner],
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.timeouts.command = Duration::from_millis(500);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(
        &record,
        Outcome::TimedOut {
            stage: Stage::Handshake,
        },
    );
    assert!(
        record.message.starts_with("handshake: "),
        "{}",
        record.message
    );
}

#[test]
fn a_shell_that_never_prompts_times_out_in_prompt() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::HangAfterAuth],
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.timeouts.command = Duration::from_millis(500);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(
        &record,
        Outcome::TimedOut {
            stage: Stage::Prompt,
        },
    );
}

#[test]
fn garbage_instead_of_a_prompt_is_a_protocol_error() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::Garbage],
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.timeouts.command = Duration::from_millis(500);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::ProtocolError);
    assert!(record.message.starts_with("prompt: "), "{}", record.message);
}

#[test]
fn a_refusing_device_is_unreachable() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::Refuse],
        ..Default::default()
    });
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Unreachable);
}

#[test]
fn a_host_key_that_changes_is_refused_on_the_next_connection() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::HostkeyChange],
        ..Default::default()
    });
    let dir = temp_dir();
    let ctx = SessionContext::new();
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run(&j, &ctx).0, Outcome::Ok);
    let (record, stages) = run(&j, &ctx);
    assert_outcome(&record, Outcome::HostKeyMismatch);
    assert_eq!(stages.last(), Some(&Stage::HostKey));
}

#[test]
fn a_flaky_device_fails_transiently_then_works() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::Flaky(1)],
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.timeouts.command = Duration::from_secs(2);
    let ctx = SessionContext::new();
    let (first, _) = run(&j, &ctx);
    // The simulator closes the first connection before its banner.
    assert_outcome(
        &first,
        Outcome::ConnectionLost {
            stage: Stage::Handshake,
        },
    );
    assert!(first.outcome.is_transient());
    assert_outcome(&run(&j, &ctx).0, Outcome::Ok);
}

#[test]
fn the_recorded_host_key_is_the_simulators() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Ok);
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    let sim_key = fleet.host_key_openssh(NAME).unwrap();
    let sim_key: Vec<&str> = sim_key.split_whitespace().take(2).collect();
    assert!(known.contains(&sim_key.join(" ")), "{known} vs {sim_key:?}");
}

#[test]
fn the_cisco_xe_alias_drives_the_same_platform() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.platform = "cisco_xe".into();
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(record.platform, "cisco_xe");
}

#[test]
fn an_unknown_platform_is_refused_before_connecting() {
    let (fleet, spec) = fleet(Behaviour::default());
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.platform = "juniper_screenos".into();
    j.attempt = 2;
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::ProtocolError);
    assert!(stages.is_empty(), "{stages:?}");
    assert!(record.message.contains("cisco_ios"), "{}", record.message);
    assert_eq!(record.attempt, 2);
    assert_eq!(fleet.counters(NAME).unwrap().connections, 0);
}

#[test]
fn a_known_device_presenting_another_key_type_is_refused() {
    // Recorded with its (legacy) RSA key, on an address of this test's own (the port is
    // taken again below; on 127.0.0.1 another test could grab it in between)…
    let mut spec = DeviceSpec::new(NAME, SimPlatform::CiscoIos);
    let base = unique_loopback_base().octets();
    spec.addr = SocketAddr::from(([base[0], base[1], base[2], 1], 0));
    spec.behaviour.faults = vec![Fault::Legacy];
    let legacy = Fleet::start(FleetSpec {
        seed: 7,
        devices: vec![spec.clone()],
    })
    .expect("start the simulated fleet");
    let dir = temp_dir();
    let mut j = ios_job(&legacy, &spec, dir.path(), &["show clock"]);
    j.target.ssh.algorithms.legacy = true;
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Ok);
    let addr = legacy.addr(NAME).unwrap();
    legacy.shutdown();
    // …then the same address answers with an Ed25519 key only: not a new host.
    let mut modern = spec.clone();
    modern.addr = addr;
    modern.behaviour.faults.clear();
    let impostor = Fleet::start(FleetSpec {
        seed: 7,
        devices: vec![modern],
    })
    .expect("restart on the same port");
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::HostKeyMismatch);
    assert_eq!(stages.last(), Some(&Stage::HostKey));
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    assert_eq!(known.lines().count(), 1, "{known}");
    drop(impostor);
}

#[test]
fn the_device_deadline_ends_a_session_with_its_partial_output() {
    let (fleet, spec) = fleet(Behaviour {
        running_config_bytes: 200_000,
        faults: vec![Fault::HangMidOutput],
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show running-config"]);
    // The per-read timeout alone would wait 60 s; the device's deadline is what ends it.
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
    let partial = &record.outputs[0];
    assert!(partial.truncated && partial.output.starts_with("Building configuration..."));
}

// ---- a device whose AAA server does not answer (`aaa-flaky`) ----

#[test]
fn an_aaa_timeout_on_a_password_login_is_connection_lost_at_auth_not_auth_failed() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::AaaFlaky(1)],
        ..Default::default()
    });
    let dir = temp_dir();
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    let record = run(&j, &SessionContext::new()).0;
    assert_outcome(&record, Outcome::ConnectionLost { stage: Stage::Auth });
    assert!(record.outcome.is_transient());
    assert!(record.message.contains("AAA server"), "{}", record.message);
    // The next login is answered: what a retry gets.
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Ok);
    let counters = fleet.counters(NAME).unwrap();
    assert_eq!((counters.aaa_unavailable, counters.auth_failed), (1, 0));
}

#[test]
fn an_aaa_error_shown_over_keyboard_interactive_is_auth_unavailable() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::AaaFlaky(1)],
        ..Default::default()
    });
    let dir = temp_dir();
    let kbd_only = ios_with(|s| s.auth_methods = vec!["keyboard-interactive".into()]);
    let j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    let record = run_with(&kbd_only, &j);
    assert_outcome(&record, Outcome::AuthUnavailable);
    assert!(record.outcome.is_transient());
    assert!(
        record.message.contains("\"% Error in authentication.\""),
        "{}",
        record.message
    );
    assert_outcome(&run_with(&kbd_only, &j), Outcome::Ok);
    let counters = fleet.counters(NAME).unwrap();
    assert_eq!((counters.aaa_unavailable, counters.auth_failed), (1, 0));
}

#[test]
fn a_wrong_password_on_a_device_with_a_flaky_aaa_server_is_still_auth_failed() {
    let (fleet, spec) = fleet(Behaviour {
        faults: vec![Fault::AaaFlaky(1)],
        ..Default::default()
    });
    let dir = temp_dir();
    let mut j = ios_job(&fleet, &spec, dir.path(), &["show clock"]);
    j.target.password = Some(Secret::new("not-the-password"));
    let record = run(&j, &SessionContext::new()).0;
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(!record.outcome.is_transient());
    let counters = fleet.counters(NAME).unwrap();
    assert_eq!((counters.aaa_unavailable, counters.auth_failed), (0, 1));
}
