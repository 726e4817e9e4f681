//! Devices behind jump hosts: OpenSSH's `sshd` on loopback as the bastion (one or two hops)
//! in front of simulated `cisco_ios` devices; and keys with passphrases and certificates.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use netsweep_device::SessionContext;
use netsweep_protocol::{
    DeviceTarget, HostKeyPolicy, Job, JumpHost, Outcome, Secret, SshSettings, Stage,
};
use netsweep_sim::{Behaviour, DeviceSpec, Fault, Fleet, FleetSpec, Platform};
use netsweep_testkit::{
    Sshd, SshdOptions, keygen_with_passphrase, sign_user_key, temp_dir, unique_loopback_base,
};

use crate::{assert_outcome, job, run};

fn bastion() -> Sshd {
    Sshd::start_jump_host().unwrap_or_else(|e| panic!("{e}"))
}

/// The bastion as a hop, logging in with its client key.
fn hop(sshd: &Sshd) -> JumpHost {
    JumpHost {
        host: "127.0.0.1".into(),
        port: sshd.port(),
        username: sshd.user().into(),
        password: None,
        key_file: Some(sshd.client_key_path()),
        ssh: SshSettings::default(),
    }
}

/// `n` simulated IOS devices `r1`…, each on its own loopback address of this test.
fn fleet(n: usize, behaviour: Behaviour) -> (Fleet, Vec<DeviceSpec>) {
    let base = unique_loopback_base().octets();
    let specs: Vec<DeviceSpec> = (1..=n)
        .map(|i| {
            let mut spec = DeviceSpec::new(format!("r{i}"), Platform::CiscoIos);
            spec.addr = SocketAddr::from(([base[0], base[1], base[2], i as u8], 0));
            spec.behaviour = behaviour.clone();
            spec
        })
        .collect();
    let fleet = Fleet::start(FleetSpec {
        seed: 11,
        devices: specs.clone(),
    })
    .expect("start the simulated fleet");
    let specs = fleet.devices().to_vec();
    (fleet, specs)
}

fn device(spec: &DeviceSpec, hops: Vec<JumpHost>) -> DeviceTarget {
    DeviceTarget {
        name: spec.name.clone(),
        host: spec.addr.ip().to_string(),
        port: spec.addr.port(),
        platform: "cisco_ios".into(),
        transport: Default::default(),
        username: spec.username.clone(),
        password: Some(Secret::new(spec.password.clone())),
        secret: Some(Secret::new(spec.secret.clone())),
        key_file: None,
        groups: vec![],
        ssh: SshSettings {
            jump_hosts: hops,
            ..SshSettings::default()
        },
    }
}

fn device_job(spec: &DeviceSpec, hops: Vec<JumpHost>, dir: &Path) -> Job {
    job(
        device(spec, hops),
        &["show clock"],
        &dir.join("known_hosts"),
    )
}

/// Runs `jobs` one after another on a fresh thread (a worker: its jump connections live as
/// long as it does), in one context.
fn run_on_one_worker(jobs: Vec<Job>) -> Vec<(netsweep_protocol::DeviceRecord, Vec<Stage>)> {
    std::thread::spawn(move || {
        let ctx = SessionContext::new();
        jobs.iter().map(|j| run(j, &ctx)).collect()
    })
    .join()
    .expect("the worker thread")
}

#[test]
fn one_jump_connection_carries_a_workers_devices_and_both_host_keys_are_checked() {
    let sshd = bastion();
    let (fleet, specs) = fleet(3, Behaviour::default());
    let dir = temp_dir();
    let jobs = specs
        .iter()
        .map(|s| device_job(s, vec![hop(&sshd)], dir.path()))
        .collect();
    for (record, stages) in run_on_one_worker(jobs) {
        assert_outcome(&record, Outcome::Ok);
        assert_eq!(record.outputs.len(), 1);
        assert_eq!(stages.first(), Some(&Stage::Connect));
    }
    assert_eq!(sshd.accepted_logins(), 1, "{}", sshd.log());
    for spec in &specs {
        assert_eq!(fleet.counters(&spec.name).unwrap().auth_ok, 1);
    }
    // Trust on first use recorded the bastion's key and each device's, each under its own name.
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    let bastion_key = sshd.host_key_line();
    let bastion_key = bastion_key.split_whitespace().nth(1).unwrap();
    assert!(
        known.contains(&format!(
            "[127.0.0.1]:{} ssh-ed25519 {bastion_key}",
            sshd.port()
        )),
        "{known}"
    );
    for spec in &specs {
        let entry = format!("[{}]:{} ", spec.addr.ip(), spec.addr.port());
        assert!(known.contains(&entry), "{known}");
    }
    assert_eq!(known.lines().count(), 4, "{known}");

    // A second worker opens its own connection, once.
    let jobs = specs
        .iter()
        .map(|s| device_job(s, vec![hop(&sshd)], dir.path()))
        .collect();
    assert!(
        run_on_one_worker(jobs)
            .iter()
            .all(|(r, _)| r.outcome == Outcome::Ok)
    );
    assert_eq!(sshd.accepted_logins(), 2, "{}", sshd.log());
}

#[test]
fn two_hops_reach_the_device_and_record_every_hops_key() {
    let outer = bastion();
    let inner = bastion();
    let (fleet, specs) = fleet(2, Behaviour::default());
    let dir = temp_dir();
    let hops = vec![hop(&outer), hop(&inner)];
    let jobs = specs
        .iter()
        .map(|s| device_job(s, hops.clone(), dir.path()))
        .collect();
    for (record, _) in run_on_one_worker(jobs) {
        assert_outcome(&record, Outcome::Ok);
    }
    assert_eq!(outer.accepted_logins(), 1, "{}", outer.log());
    assert_eq!(inner.accepted_logins(), 1, "{}", inner.log());
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    for sshd in [&outer, &inner] {
        assert!(
            known.contains(&format!("[127.0.0.1]:{} ", sshd.port())),
            "{known}"
        );
    }
    assert_eq!(fleet.counters("r2").unwrap().auth_ok, 1);
}

#[test]
fn a_changed_jump_host_key_stops_its_devices_before_they_are_contacted() {
    let sshd = bastion();
    let (fleet, specs) = fleet(1, Behaviour::default());
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    // Someone else's key recorded for the bastion's address.
    std::fs::write(
        &kh,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        ),
    )
    .unwrap();
    let (record, stages) = run(
        &device_job(&specs[0], vec![hop(&sshd)], dir.path()),
        &SessionContext::new(),
    );
    assert_outcome(&record, Outcome::HostKeyMismatch);
    assert_eq!(stages, [Stage::Connect]);
    assert!(
        record.message.starts_with(&format!(
            "connect: jump host {}@127.0.0.1:{}: the host key",
            sshd.user(),
            sshd.port()
        )),
        "{}",
        record.message
    );
    assert_eq!(fleet.counters("r1").unwrap().connections, 0);
}

#[test]
fn the_devices_host_key_is_checked_behind_the_jump_host() {
    let sshd = bastion();
    let (_fleet, specs) = fleet(1, Behaviour::default());
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let spec = &specs[0];
    std::fs::write(
        &kh,
        format!(
            "[{}]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
            spec.addr.ip(),
            spec.addr.port()
        ),
    )
    .unwrap();
    let mut j = device_job(spec, vec![hop(&sshd)], dir.path());
    j.host_key_policy = HostKeyPolicy::Strict;
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::HostKeyMismatch);
    // Under strict, the bastion (not recorded) is refused first; recorded, the device is.
    assert!(record.message.contains("jump host"), "{}", record.message);
    std::fs::write(
        &kh,
        format!(
            "{}[127.0.0.1]:{} {}\n",
            std::fs::read_to_string(&kh).unwrap(),
            sshd.port(),
            sshd.host_key_line()
        ),
    )
    .unwrap();
    let (record, stages2) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::HostKeyMismatch);
    assert_eq!(stages2.last(), Some(&Stage::HostKey));
    assert!(!record.message.contains("jump host"), "{}", record.message);
    assert_eq!(stages, [Stage::Connect]);
}

#[test]
fn a_wrong_jump_password_is_auth_failed_once_and_the_device_is_never_contacted() {
    let sshd = bastion();
    let (fleet, specs) = fleet(1, Behaviour::default());
    let dir = temp_dir();
    let mut jump = hop(&sshd);
    jump.key_file = None;
    jump.password = Some(Secret::new("not-the-password"));
    let (record, _) = run(
        &device_job(&specs[0], vec![jump], dir.path()),
        &SessionContext::new(),
    );
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(
        record.message.contains("jump host") && record.message.contains("rejected user"),
        "{}",
        record.message
    );
    assert!(!record.message.contains("not-the-password"));
    assert_eq!(sshd.failed_passwords(), 1, "{}", sshd.log());
    assert_eq!(fleet.counters("r1").unwrap().connections, 0);
}

#[test]
fn a_dead_jump_host_is_unreachable_naming_it() {
    let sshd = bastion();
    let (fleet, specs) = fleet(1, Behaviour::default());
    let dir = temp_dir();
    // A bastion address where nothing listens (a port of this test's own address, bound and
    // closed: no other test can be listening there).
    let base = unique_loopback_base().octets();
    let gone = std::net::TcpListener::bind(SocketAddr::from(([base[0], base[1], base[2], 200], 0)))
        .unwrap();
    let mut dead = hop(&sshd);
    dead.host = gone.local_addr().unwrap().ip().to_string();
    dead.port = gone.local_addr().unwrap().port();
    drop(gone);
    let (record, _) = run(
        &device_job(&specs[0], vec![dead], dir.path()),
        &SessionContext::new(),
    );
    assert_outcome(&record, Outcome::Unreachable);
    assert!(
        record.message.starts_with("connect: jump host ") && record.message.contains("refused"),
        "{}",
        record.message
    );
    assert_eq!(fleet.counters("r1").unwrap().connections, 0);
}

#[test]
fn a_device_the_jump_host_cannot_reach_is_unreachable() {
    let sshd = bastion();
    let (fleet, specs) = fleet(
        1,
        Behaviour {
            faults: vec![Fault::Refuse],
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let (record, _) = run(
        &device_job(&specs[0], vec![hop(&sshd)], dir.path()),
        &SessionContext::new(),
    );
    assert_outcome(&record, Outcome::Unreachable);
    let target = format!("{}:{}", specs[0].addr.ip(), specs[0].addr.port());
    assert!(
        record
            .message
            .contains(&format!("could not connect to {target}")),
        "{}",
        record.message
    );
    drop(fleet);
}

#[test]
fn a_bastion_killed_mid_sweep_loses_the_running_device_and_the_next_is_unreachable() {
    let mut sshd = bastion();
    // Each command takes a while: the bastion dies while the first device is answering.
    let (_fleet, specs) = fleet(
        2,
        Behaviour {
            latency: Duration::from_millis(1500),
            ..Default::default()
        },
    );
    let dir = temp_dir();
    let jobs: Vec<Job> = specs
        .iter()
        .map(|s| {
            let mut j = device_job(s, vec![hop(&sshd)], dir.path());
            j.commands = vec!["show version".into()];
            j
        })
        .collect();
    let started = Instant::now();
    let worker = std::thread::spawn(move || {
        let ctx = SessionContext::new();
        jobs.iter().map(|j| run(j, &ctx)).collect::<Vec<_>>()
    });
    netsweep_testkit::poll_until(Duration::from_secs(20), "the first device's login", || {
        sshd.accepted_logins() == 1 && _fleet.counters("r1").unwrap().commands > 0
    });
    sshd.kill_all();
    let records = worker.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let (first, _) = &records[0];
    assert!(
        matches!(first.outcome, Outcome::ConnectionLost { .. }),
        "{:?}: {}",
        first.outcome,
        first.message
    );
    let (second, _) = &records[1];
    assert_outcome(second, Outcome::Unreachable);
    assert!(second.message.contains("jump host"), "{}", second.message);
}

#[test]
fn an_encrypted_key_logs_in_with_its_passphrase_and_says_so_without_it() {
    let sshd = Sshd::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = temp_dir();
    let key = dir.path().join("id_locked");
    keygen_with_passphrase(&key, "ed25519", "correct horse").unwrap();
    sshd.authorize(&std::fs::read_to_string(key.with_extension("pub")).unwrap())
        .unwrap();
    let kh = dir.path().join("known_hosts");
    let mut j = job(sshd.linux_target(&key), &["echo in"], &kh);
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(
        record
            .message
            .contains("it is encrypted and no passphrase is configured")
            && record.message.contains("key_passphrase_file"),
        "{}",
        record.message
    );
    j.target.ssh.key_passphrase = Some(Secret::new("wrong horse"));
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(
        record.message.contains("wrong passphrase"),
        "{}",
        record.message
    );
    assert!(!record.message.contains("horse"), "{}", record.message);
    j.target.ssh.key_passphrase = Some(Secret::new("correct horse"));
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(record.outputs[0].output, "in");
}

#[test]
fn an_openssh_certificate_beside_the_key_logs_in() {
    let sshd = Sshd::start_with(SshdOptions {
        user_ca: true,
        ..SshdOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let dir = temp_dir();
    // A key the server does not know by itself: only its certificate vouches for it.
    let key = dir.path().join("id_cert");
    keygen_with_passphrase(&key, "ed25519", "").unwrap();
    let kh = dir.path().join("known_hosts");
    let j = job(sshd.linux_target(&key), &["echo in"], &kh);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::AuthFailed);
    sign_user_key(
        &sshd.user_ca_path(),
        &key.with_extension("pub"),
        sshd.user(),
    )
    .unwrap();
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert!(
        sshd.log().contains("Accepted publickey") && sshd.log().contains("CA "),
        "{}",
        sshd.log()
    );
}
