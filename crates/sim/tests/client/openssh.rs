//! OpenSSH's own `ssh` client against the simulator: a PTY session on IOS, exec on Linux, and
//! a known_hosts entry that matches the derived host key.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use netsweep_sim::{Fleet, Platform};

use crate::helpers::{device, fleet};

/// How long one `ssh` run may take before the test kills it and fails.
const SSH_DEADLINE: Duration = Duration::from_secs(30);

/// An askpass script that answers every prompt with `password`.
fn askpass(dir: &Path, password: &str) -> PathBuf {
    let path = dir.join("askpass.sh");
    std::fs::write(&path, format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path
}

/// `ssh` to a device, with its own known_hosts file and the password from askpass.
fn ssh(dir: &Path, fleet: &Fleet, name: &str, strict: &str) -> Command {
    let spec = fleet.devices().iter().find(|d| d.name == name).unwrap();
    let mut cmd = Command::new("ssh");
    cmd.args(["-F", "/dev/null", "-p"])
        .arg(spec.addr.port().to_string())
        .args(["-l", &spec.username])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .args([
            "-o",
            &format!("StrictHostKeyChecking={strict}"),
            "-o",
            "BatchMode=no",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=keyboard-interactive,password",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
        ])
        .env("SSH_ASKPASS", askpass(dir, &spec.password))
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs a prepared `ssh` with `input` on stdin; kills it if it outlives the deadline.
fn run(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd.spawn().expect("ssh runs");
    let pid = child.id();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(SSH_DEADLINE) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("ssh did not finish within {SSH_DEADLINE:?}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn ssh_drives_an_ios_pty_session_and_records_the_derived_host_key() {
    let fleet = fleet(vec![device("r1", Platform::CiscoIos)]);
    let secret = fleet.devices()[0].secret.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = ssh(dir.path(), &fleet, "r1", "accept-new");
    cmd.args(["-tt", "127.0.0.1"]);
    let script = format!("terminal length 0\nshow version\nenable\n{secret}\nshow clock\nexit\n");
    let output = run(cmd, &script);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("r1>terminal length 0\r\n"), "{stdout}");
    assert!(stdout.contains("Cisco IOS Software"), "{stdout}");
    assert!(stdout.contains("r1>enable\r\nPassword: "), "{stdout}");
    assert!(stdout.contains("r1#show clock\r\n*"), "{stdout}");
    assert!(!stdout.contains(&secret), "{stdout}");

    // The key ssh recorded is the fleet's derived one, so a strict second visit gets in.
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    let key = fleet.host_key_openssh("r1").unwrap();
    assert!(known.contains(&key), "{known}\nvs {key}");
    let mut strict = ssh(dir.path(), &fleet, "r1", "yes");
    strict.args(["-tt", "127.0.0.1"]);
    let again = run(strict, "exit\n");
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(fleet.counters("r1").unwrap().auth_ok, 2);
}

#[test]
fn ssh_runs_linux_commands_with_their_exit_status_and_stderr() {
    let fleet = fleet(vec![device("srv1", Platform::Linux)]);
    let dir = tempfile::tempdir().unwrap();
    let exec = |command: &str| {
        let mut cmd = ssh(dir.path(), &fleet, "srv1", "accept-new");
        cmd.args(["127.0.0.1", command]);
        run(cmd, "")
    };
    let hostname = exec("hostname");
    assert_eq!(
        text(&hostname.stdout),
        "srv1\n",
        "{}",
        text(&hostname.stderr)
    );
    assert_eq!(hostname.status.code(), Some(0));
    assert_eq!(exec("false").status.code(), Some(1));
    let missing = exec("ls /nonexistent");
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr)
            .contains("ls: cannot access '/nonexistent': No such file or directory"),
        "{}",
        text(&missing.stderr)
    );
}
