//! `scripts/test`, the README's test command: its check phase, run for real in the mode that
//! never installs, with its lookup pointed at directories the test lays out.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test")
}

fn check_only(tool_path: &Path) -> Output {
    Command::new(script())
        .arg("--check-only")
        .env("NETSWEEP_TEST_TOOL_PATH", tool_path)
        .output()
        .expect("run scripts/test")
}

/// The installed program `name`, from the directories the script itself looks in.
fn installed(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed: run scripts/test, which installs it"))
}

/// A directory holding the real OpenSSH programs, and a `busybox` whose applet list is
/// `applets` (BusyBox builds differ only in that list, which is what the script reads).
fn tools_dir(applets: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["sshd", "ssh", "ssh-keygen"] {
        symlink(installed(name), dir.path().join(name)).expect("symlink");
    }
    let busybox = dir.path().join("busybox");
    let list = applets.join("\\n");
    std::fs::write(&busybox, format!("#!/bin/sh\nprintf '{list}\\n'\n")).expect("write busybox");
    std::fs::set_permissions(&busybox, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn with_nothing_installed_it_stops_with_one_line_naming_every_need() {
    let empty = tempfile::tempdir().expect("temp dir");
    let output = check_only(empty.path());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert!(
        line.starts_with("scripts/test: missing sshd, ssh, ssh-keygen, busybox telnetd: "),
        "{line}"
    );
    assert!(line.contains("openssh-server"), "{line}");
    assert!(line.contains("busybox"), "{line}");
    assert!(line.ends_with("then run scripts/test again"), "{line}");
}

#[test]
fn a_busybox_without_telnetd_does_not_count() {
    let dir = tools_dir(&["ls", "cat", "telnet"]);
    let output = check_only(dir.path());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("scripts/test: missing busybox telnetd: "),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("openssh"), "{}", lines[0]);
}

#[test]
fn with_everything_found_it_exports_where() {
    let dir = tools_dir(&["ls", "telnetd", "cat"]);
    let output = check_only(dir.path());
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let sshd = dir.path().join("sshd");
    let busybox = dir.path().join("busybox");
    assert!(
        stdout.contains(&format!("export NETSWEEP_TEST_SSHD={}\n", sshd.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "export NETSWEEP_TEST_BUSYBOX={}\n",
            busybox.display()
        )),
        "{stdout}"
    );
}
