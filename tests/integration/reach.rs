//! Reaching devices the way real networks require: through a jump host (OpenSSH `sshd` on
//! loopback as the bastion) set in the inventory or by ProxyJump in an ssh_config file.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use netsweep_sim::{DeviceSpec, Platform};
use netsweep_testkit::Sshd;

use crate::harness::{TestFleet, json_lines, netsweep_run, run_with_limit, write_file};

const LIMIT: Duration = Duration::from_secs(120);

fn bastion() -> Sshd {
    Sshd::start_jump_host().unwrap_or_else(|e| panic!("{e}"))
}

fn ios_fleet(n: usize) -> TestFleet {
    TestFleet::start(
        (1..=n)
            .map(|i| DeviceSpec::new(format!("r{i}"), Platform::CiscoIos))
            .collect(),
    )
}

/// An inventory of the fleet's devices with `defaults` (YAML lines, indented two spaces)
/// shared by every entry.
fn inventory(fleet: &TestFleet, defaults: &str) -> String {
    let mut yaml = format!("defaults:\n  device_type: cisco_ios\n{defaults}routers:\n");
    for d in fleet.fleet.devices() {
        writeln!(
            yaml,
            "  - {{name: {}, host: '{}', port: {}, username: {}, password: '{}', secret: '{}'}}",
            d.name,
            d.addr.ip(),
            d.addr.port(),
            d.username,
            d.password,
            d.secret
        )
        .unwrap();
    }
    yaml
}

fn statuses(stdout: &str) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = json_lines(stdout)
        .iter()
        .map(|r| {
            (
                r["device"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    all.sort();
    all
}

fn all_ok(n: usize) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = (1..=n)
        .map(|i| (format!("r{i}"), "ok".to_string()))
        .collect();
    all.sort();
    all
}

fn jump_defaults(sshd: &Sshd, key: &Path) -> String {
    format!(
        "  jump_host: {{host: 127.0.0.1, port: {}, username: {}, key_file: '{}'}}\n",
        sshd.port(),
        sshd.user(),
        key.display()
    )
}

#[test]
fn a_sweep_through_a_jump_host_opens_one_bastion_connection_per_worker() {
    let sshd = bastion();
    let fleet = ios_fleet(6);
    write_file(
        fleet.dir.path(),
        "devices.yaml",
        &inventory(&fleet, &jump_defaults(&sshd, &sshd.client_key_path())),
    );
    let mut logins = 0;
    for pool in ["threads", "processes"] {
        let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--format", "jsonl"]);
        cmd.args([
            "--pool",
            pool,
            "--workers",
            "2",
            "--host-key-policy",
            "accept-new",
            "--no-ssh-config",
        ]);
        let out = run_with_limit(cmd, LIMIT);
        assert_eq!(out.code(), Some(0), "{pool}: {out:#?}");
        assert_eq!(statuses(&out.stdout), all_ok(6), "{pool}");
        let now = sshd.accepted_logins();
        assert!(
            (1..=2).contains(&(now - logins)),
            "{pool}: the bastion saw {} logins for 2 workers",
            now - logins
        );
        logins = now;
    }
    // Both the bastion's and the devices' keys were learnt (accept-new) and checked.
    let known = std::fs::read_to_string(&fleet.known_hosts).unwrap();
    assert!(
        known.contains(&format!("[127.0.0.1]:{}", sshd.port())),
        "{known}"
    );
    assert_eq!(known.lines().count(), 7, "{known}");
}

#[test]
fn a_dead_jump_host_makes_its_devices_unreachable_naming_it() {
    let mut sshd = bastion();
    let fleet = ios_fleet(3);
    write_file(
        fleet.dir.path(),
        "devices.yaml",
        &inventory(&fleet, &jump_defaults(&sshd, &sshd.client_key_path())),
    );
    sshd.kill_all();
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--format", "jsonl"]);
    cmd.args([
        "--host-key-policy",
        "accept-new",
        "--no-ssh-config",
        "--connect-timeout",
        "2s",
    ]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(1), "{out:#?}");
    for r in json_lines(&out.stdout) {
        assert_eq!(r["status"], "unreachable", "{r}");
        assert!(r["message"].as_str().unwrap().contains("jump host"), "{r}");
    }
}

#[test]
fn proxy_jump_from_an_ssh_config_file_and_the_entry_beats_it() {
    let sshd = bastion();
    let fleet = ios_fleet(3);
    // r3's entry names its own (unreachable) jump host: the entry wins over ssh_config.
    let mut yaml = inventory(&fleet, "");
    yaml = yaml.replace(
        "{name: r3, ",
        "{name: r3, jump_host: 'nobody@127.0.0.1:1', ",
    );
    write_file(fleet.dir.path(), "devices.yaml", &yaml);
    let config = write_file(
        fleet.dir.path(),
        "ssh_config",
        &format!(
            "Host bastion\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n\
             Host 127.*\n  ProxyJump bastion\n  ServerAliveInterval 30\n",
            sshd.port(),
            sshd.user(),
            sshd.client_key_path().display()
        ),
    );
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--format", "jsonl"]);
    cmd.arg("--ssh-config").arg(&config).args([
        "--host-key-policy",
        "accept-new",
        "--connect-timeout",
        "3s",
    ]);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(1), "{out:#?}");
    let got = statuses(&out.stdout);
    assert_eq!(got[0], ("r1".into(), "ok".into()), "{}", out.stdout);
    assert_eq!(got[1], ("r2".into(), "ok".into()), "{got:?}");
    assert_eq!(got[2], ("r3".into(), "unreachable".into()), "{got:?}");
    assert!(sshd.accepted_logins() >= 1);

    // A directive netsweep cannot honour is an input error naming file and line.
    let bad = write_file(
        fleet.dir.path(),
        "bad_config",
        "Host *\n  ProxyCommand nc %h %p\n",
    );
    let mut cmd = netsweep_run(&fleet, &["-c", "show clock"]);
    cmd.arg("--ssh-config").arg(&bad);
    let out = run_with_limit(cmd, LIMIT);
    assert_eq!(out.code(), Some(2), "{out:#?}");
    assert!(
        out.stderr.contains("bad_config:2") && out.stderr.contains("proxycommand"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_legacy_only_device_is_refused_by_default_and_reached_when_its_entry_allows_it() {
    let mut old = DeviceSpec::new("r2", Platform::CiscoIos);
    old.behaviour.faults = vec![netsweep_sim::Fault::Legacy];
    let fleet = TestFleet::start(vec![DeviceSpec::new("r1", Platform::CiscoIos), old]);
    let yaml = inventory(&fleet, "");
    write_file(fleet.dir.path(), "devices.yaml", &yaml);
    let run = || {
        let mut cmd = netsweep_run(&fleet, &["-c", "show clock", "--format", "jsonl"]);
        cmd.arg("--no-ssh-config");
        run_with_limit(cmd, LIMIT)
    };
    let out = run();
    assert_eq!(out.code(), Some(1), "{out:#?}");
    let records = json_lines(&out.stdout);
    let r2 = records.iter().find(|r| r["device"] == "r2").unwrap();
    assert_eq!(r2["status"], "protocol_error", "{r2}");
    let message = r2["message"].as_str().unwrap();
    assert!(
        message.contains("diffie-hellman-group14-sha1") && message.contains("legacy_algorithms"),
        "{message}"
    );

    let allowed = yaml.replace("{name: r2, ", "{name: r2, legacy_algorithms: true, ");
    write_file(fleet.dir.path(), "devices.yaml", &allowed);
    let out = run();
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(statuses(&out.stdout), all_ok(2));
}

#[test]
fn an_encrypted_key_logs_in_with_its_passphrase_from_a_file() {
    let sshd = Sshd::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_locked");
    netsweep_testkit::keygen_with_passphrase(&key, "ed25519", "correct horse").unwrap();
    sshd.authorize(&std::fs::read_to_string(key.with_extension("pub")).unwrap())
        .unwrap();
    write_file(dir.path(), "phrase", "correct horse\n");
    let entry = |extra: &str| {
        format!(
            "- {{name: srv, device_type: linux, host: 127.0.0.1, port: {}, username: {}, \
             key_file: id_locked{extra}}}\n",
            sshd.port(),
            sshd.user()
        )
    };
    let run = || {
        let mut cmd = std::process::Command::new(crate::harness::bin("netsweep"));
        cmd.arg("run")
            .arg("--inventory")
            .arg(dir.path().join("devices.yaml"))
            .arg("--known-hosts")
            .arg(dir.path().join("known_hosts"))
            .args(["-c", "echo in", "--format", "jsonl", "--no-ssh-config"]);
        run_with_limit(cmd, LIMIT)
    };
    write_file(dir.path(), "devices.yaml", &entry(""));
    let out = run();
    assert_eq!(out.code(), Some(1), "{out:#?}");
    assert!(out.stdout.contains("key_passphrase_file"), "{}", out.stdout);

    write_file(
        dir.path(),
        "devices.yaml",
        &entry(", key_passphrase_file: phrase"),
    );
    let out = run();
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let records = json_lines(&out.stdout);
    assert_eq!(records[0]["outputs"][0]["output"], "in", "{}", out.stdout);
    assert!(!out.stdout.contains("horse") && !out.stderr.contains("horse"));
}
