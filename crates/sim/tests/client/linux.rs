//! The Linux platform: exec channels with exit status and stderr, key and password logins,
//! and the `$ ` shell.

use std::path::Path;
use std::process::Command;

use netsweep_sim::Platform;

use crate::helpers::{Shell, connect, device, exec, fleet, login};

/// An ed25519 key pair made by ssh-keygen in `dir`; returns (private key path, public line).
pub fn client_key(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_owned())
}

#[test]
fn exec_reports_output_stderr_and_exit_status() {
    let fleet = fleet(vec![device("srv1", Platform::Linux)]);
    let session = login(&fleet, "srv1");
    assert_eq!(
        exec(&session, "hostname"),
        ("srv1\n".into(), String::new(), 0)
    );
    let (uname, _, _) = exec(&session, "uname -a");
    assert!(uname.starts_with("Linux srv1 "), "{uname:?}");
    assert_eq!(exec(&session, "echo hello world").0, "hello world\n");
    assert!(
        exec(&session, "cat /etc/os-release")
            .0
            .contains("ID=debian")
    );
    assert!(exec(&session, "uptime").0.contains(" up "));
    assert_eq!(exec(&session, "false").2, 1);
    let (stdout, stderr, status) = exec(&session, "ls /nonexistent");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "ls: cannot access '/nonexistent': No such file or directory\n"
    );
    assert_eq!(status, 2);
    assert_eq!(fleet.counters("srv1").unwrap().commands, 7);
}

#[test]
fn public_key_and_password_logins_work_and_a_wrong_key_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (good, good_public) = client_key(dir.path(), "good");
    let (bad, _) = client_key(dir.path(), "bad");
    let mut srv1 = device("srv1", Platform::Linux);
    srv1.authorized_keys = vec![good_public];
    let fleet = fleet(vec![srv1]);
    let user = fleet.devices()[0].username.clone();

    let session = connect(&fleet, "srv1").unwrap();
    assert_eq!(session.auth_methods(&user).unwrap(), "publickey,password");
    let refused = session.userauth_pubkey_file(&user, None, &bad, None);
    assert!(refused.is_err() && !session.authenticated());
    session
        .userauth_pubkey_file(&user, None, &good, None)
        .unwrap();
    assert!(session.authenticated());
    assert_eq!(exec(&session, "whoami").0, "netsweep\n");

    let session = connect(&fleet, "srv1").unwrap();
    let wrong = session.userauth_password(&user, "not-the-password");
    assert!(wrong.is_err() && !session.authenticated());
    let counters = fleet.counters("srv1").unwrap();
    assert_eq!(counters.auth_ok, 1);
    assert_eq!(
        counters.auth_failed, 1,
        "an unknown key offered is a probe, not a failure"
    );
}

#[test]
fn the_shell_prompts_with_a_dollar_and_exit_sets_the_status() {
    let fleet = fleet(vec![device("srv1", Platform::Linux)]);
    let session = login(&fleet, "srv1");
    let mut shell = Shell::open(&session);
    shell.read_until("netsweep@srv1:~$ ");
    let out = shell.run("hostname", "$ ");
    assert_eq!(out, "hostname\r\nsrv1\r\nnetsweep@srv1:~$ ");
    let err = shell.run("cat /nope", "$ ");
    assert!(
        err.contains("cat: /nope: No such file or directory\r\n"),
        "{err:?}"
    );
    shell.send("exit 3\r");
    let mut rest = String::new();
    use std::io::Read;
    let _ = shell.channel.read_to_string(&mut rest);
    shell.channel.wait_close().unwrap();
    assert_eq!(shell.channel.exit_status().unwrap(), 3);
}
