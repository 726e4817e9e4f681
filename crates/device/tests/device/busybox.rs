//! Telnet against BusyBox's `telnetd` (code not written here) on loopback: its option
//! negotiation (it asks DO ECHO, DO NAWS and offers WILL ECHO, WILL SGA), its CR LF / CR NUL
//! handling and a real pty. The login program is a small script: an IOS-like login and CLI,
//! or a login followed by a real shell for `linux_telnet`.

use std::path::Path;
use std::time::Duration;

use netsweep_device::SessionContext;
use netsweep_protocol::{DeviceRecord, DeviceTarget, Job, Outcome, Secret, Stage, Transport};
use netsweep_testkit::tempfile::TempDir;
use netsweep_testkit::{Telnetd, temp_dir};

use crate::{assert_outcome, job, run};

const USER: &str = "netsweep";
const PASSWORD: &str = "bb-Passw0rd-17";
const SECRET: &str = "bb-En4ble-23";

/// Shown by telnetd before the login program starts, as `/etc/issue` would be.
const ISSUE: &str = "Authorized access only. (BusyBox telnetd, netsweep tests)\n";

/// The login half of every script: IOS's banner and prompts, `% Login invalid` and the
/// prompts again on a wrong password, three tries. `@NOTES@` is the telnetd dir, where each
/// attempt is written down. With `@WAIT@` set to 1 it says nothing until it gets a return,
/// as a console does.
const LOGIN: &str = r#"#!/bin/sh
notes=@NOTES@
if [ @WAIT@ = 1 ]; then read -r _wake || exit 0; fi
tries=0
while :; do
    printf '\nUser Access Verification\n\nUsername: '
    read -r user || exit 0
    printf 'Password: '
    stty -echo; read -r pass; stty echo
    printf '\n'
    echo "attempt $user" >>"$notes/attempts"
    if [ "$user" = @USER@ ] && [ "$pass" = @PASSWORD@ ]; then break; fi
    printf '%% Login invalid\n'
    tries=$((tries + 1))
    [ $tries -ge 3 ] && exit 1
done
"#;

/// An IOS-like CLI after the login: user mode, enable, a few show commands, the complaint
/// for anything else. `show terminal` reports the pty's size, which only the client's NAWS
/// answer (applied by telnetd) can have set.
const IOS_CLI: &str = r#"
mode='>'
while :; do
    printf 'bb-r1%s' "$mode"
    read -r line || exit 0
    case $line in
    '' | 'terminal length 0' | 'terminal width 511') ;;
    enable)
        printf 'Password: '
        stty -echo; read -r s; stty echo
        printf '\n'
        if [ "$s" = @SECRET@ ]; then mode='#'; else printf '%% Access denied\n'; fi ;;
    'show clock') printf '*12:00:00.000 UTC Tue Dec 1 2026\n' ;;
    'show privilege') [ "$mode" = '#' ] && printf 'Current privilege level is 15\n' || printf 'Current privilege level is 1\n' ;;
    'show terminal') set -- $(stty size); printf 'Line 2, Location: "", Type: "%s"\nLength: %s lines, Width: %s columns\n' "$TERM" "$1" "$2" ;;
    exit | logout) exit 0 ;;
    *) printf "                ^\n%% Invalid input detected at '^' marker.\n\n" ;;
    esac
done
"#;

/// A real shell after the login, with a prompt the linux driver recognises.
const SHELL: &str = r#"
PS1='bb-srv1$ ' exec /bin/sh -i
"#;

fn script(cli: &str, notes: &Path, wait: bool) -> String {
    format!("{LOGIN}{cli}")
        .replace("@NOTES@", &notes.display().to_string())
        .replace("@WAIT@", if wait { "1" } else { "0" })
        .replace("@USER@", USER)
        .replace("@PASSWORD@", PASSWORD)
        .replace("@SECRET@", SECRET)
}

/// telnetd running the login program followed by `cli`, and the dir where the program notes
/// each login attempt (written into the script, so made first).
struct BusyBox {
    server: Telnetd,
    notes: TempDir,
}

fn telnetd(cli: &str, wait: bool) -> BusyBox {
    let notes = temp_dir();
    let server = Telnetd::start(&script(cli, notes.path(), wait), ISSUE)
        .unwrap_or_else(|e| panic!("start busybox telnetd: {e}"));
    BusyBox { server, notes }
}

/// How many times the login program was given a user name and password.
fn attempts(bb: &BusyBox) -> usize {
    std::fs::read_to_string(bb.notes.path().join("attempts"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn target(bb: &BusyBox, platform: &str, password: &str) -> DeviceTarget {
    DeviceTarget {
        name: "bb".into(),
        host: "127.0.0.1".into(),
        port: bb.server.port(),
        platform: platform.into(),
        transport: Transport::Telnet,
        username: USER.into(),
        password: Some(Secret::new(password)),
        secret: Some(Secret::new(SECRET)),
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
    }
}

fn telnet_job(target: DeviceTarget, dir: &Path, commands: &[&str]) -> Job {
    let mut j = job(target, commands, &dir.join("known_hosts"));
    j.timeouts.command = Duration::from_secs(5);
    j.timeouts.deadline = Duration::from_secs(30);
    j
}

#[track_caller]
fn assert_nothing_secret(record: &DeviceRecord) {
    let shown = format!("{record:?}");
    for secret in [PASSWORD, SECRET] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

#[test]
fn an_ios_like_cli_behind_busybox_telnetd_logs_in_enables_and_runs_commands() {
    let server = telnetd(IOS_CLI, false);
    let dir = temp_dir();
    let j = telnet_job(
        target(&server, "cisco_ios", PASSWORD),
        dir.path(),
        &["show clock", "show privilege", "show terminal"],
    );
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(record.transport, Transport::Telnet);
    assert_eq!(
        stages,
        [
            Stage::Connect,
            Stage::Handshake,
            Stage::Auth,
            Stage::Prompt,
            Stage::Enable,
            Stage::Command,
            Stage::Close
        ]
    );
    let outputs: Vec<&str> = record.outputs.iter().map(|o| o.output.as_str()).collect();
    assert_eq!(
        outputs[0], "*12:00:00.000 UTC Tue Dec 1 2026",
        "{outputs:?}"
    );
    assert_eq!(outputs[1], "Current privilege level is 15", "{outputs:?}");
    // telnetd applied the window size netsweep sent by NAWS to the pty.
    assert!(
        outputs[2].contains("Length: 32000 lines, Width: 510 columns"),
        "{outputs:?}"
    );
    assert_eq!(attempts(&server), 1);
    assert!(
        !dir.path().join("known_hosts").exists(),
        "telnet has no host keys"
    );
    assert_nothing_secret(&record);
}

#[test]
fn a_wrong_password_at_busybox_telnetd_is_auth_failed_after_one_try() {
    let server = telnetd(IOS_CLI, false);
    let dir = temp_dir();
    let j = telnet_job(
        target(&server, "cisco_ios", "not-the-password"),
        dir.path(),
        &["show clock"],
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(
        record
            .message
            .starts_with("auth: the device rejected user netsweep"),
        "{}",
        record.message
    );
    assert_eq!(attempts(&server), 1, "netsweep must not guess twice");
    assert!(!format!("{record:?}").contains("not-the-password"));
}

#[test]
fn an_unknown_command_at_busybox_telnetd_is_a_command_error_and_the_session_goes_on() {
    let server = telnetd(IOS_CLI, false);
    let dir = temp_dir();
    let j = telnet_job(
        target(&server, "cisco_ios", PASSWORD),
        dir.path(),
        &["show bogus", "show clock"],
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::CommandError);
    let error = record.outputs[0].error.as_deref().unwrap_or_default();
    assert!(error.starts_with("% Invalid input"), "{:?}", record.outputs);
    assert_eq!(record.outputs[1].output, "*12:00:00.000 UTC Tue Dec 1 2026");
}

#[test]
fn a_console_silent_until_it_gets_a_return_is_woken_and_logs_in() {
    let server = telnetd(IOS_CLI, true);
    let dir = temp_dir();
    let j = telnet_job(
        target(&server, "cisco_ios", PASSWORD),
        dir.path(),
        &["show clock"],
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(attempts(&server), 1);
}

#[test]
fn linux_telnet_behind_busybox_telnetd_is_a_real_shell_session() {
    let server = telnetd(SHELL, false);
    let dir = temp_dir();
    let j = telnet_job(
        target(&server, "linux", PASSWORD),
        dir.path(),
        &[
            "echo hello from $((6 * 7))",
            "no-such-command-here",
            "printf 'a\\nb\\n'",
        ],
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::CommandError);
    assert_eq!(
        record.outputs[0].output, "hello from 42",
        "{:?}",
        record.outputs
    );
    let error = record.outputs[1].error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("/bin/sh: ") && error.contains("no-such-command-here"),
        "{:?}",
        record.outputs
    );
    assert_eq!(record.outputs[2].output, "a\nb", "{:?}", record.outputs);
    assert_nothing_secret(&record);
}
