//! `linux` devices over exec channels, against OpenSSH's sshd started on loopback.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netsweep_device::SessionContext;
use netsweep_protocol::{DeviceTarget, HostKeyPolicy, Outcome, Stage};
use netsweep_testkit::{Sshd, poll_until, temp_dir};

use crate::{assert_outcome, job, run};

fn start_sshd() -> Sshd {
    Sshd::start().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn exec_keeps_stdout_stderr_and_exit_status() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let j = job(
        sshd.linux_target(&sshd.client_key_path()),
        &["echo hello; echo world", "echo oops >&2; exit 3", "true"],
        &kh,
    );
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::CommandError);
    assert_eq!(
        stages,
        [
            Stage::Connect,
            Stage::Handshake,
            Stage::HostKey,
            Stage::Auth,
            Stage::Command,
            Stage::Close
        ]
    );
    let [ok, failed, last] = record.outputs.as_slice() else {
        panic!("three outputs expected: {:#?}", record.outputs)
    };
    assert_eq!(ok.output, "hello\nworld");
    assert_eq!(ok.exit_status, Some(0));
    assert_eq!(ok.error, None);
    assert_eq!(failed.exit_status, Some(3));
    assert_eq!(failed.stderr.as_deref(), Some("oops"));
    assert_eq!(failed.error.as_deref(), Some("exit status 3: oops"));
    assert_eq!(last.exit_status, Some(0));
    assert!(
        record.message.contains("exit status 3"),
        "{}",
        record.message
    );
    assert_eq!(record.attempt, 1);
    assert!(record.worker.is_empty());
    let t = &record.timings;
    assert!(t.connect_ms.is_some() && t.handshake_ms.is_some() && t.auth_ms.is_some());
    assert!(t.commands_ms.is_some() && t.prompt_ms.is_none() && t.enable_ms.is_none());
    assert!(t.total_ms >= t.commands_ms.unwrap());
}

#[test]
fn accept_new_records_the_host_key_once_then_strict_accepts_it() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let ctx = SessionContext::new();
    let mut j = job(
        sshd.linux_target(&sshd.client_key_path()),
        &["hostname"],
        &kh,
    );
    let (record, _) = run(&j, &ctx);
    assert_outcome(&record, Outcome::Ok);
    assert!(!record.outputs[0].output.is_empty());

    let recorded = std::fs::read_to_string(&kh).unwrap();
    let key = sshd.host_key_line();
    let key_body: Vec<&str> = key.split_whitespace().take(2).collect();
    assert_eq!(recorded.lines().count(), 1, "{recorded}");
    assert!(
        recorded.starts_with(&format!(
            "[127.0.0.1]:{} {}",
            sshd.port(),
            key_body.join(" ")
        )),
        "recorded {recorded:?}, server key {key:?}"
    );
    let mode = std::fs::metadata(&kh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    j.host_key_policy = HostKeyPolicy::Strict;
    let (record, _) = run(&j, &ctx);
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), recorded);
}

#[test]
fn strict_refuses_an_unknown_host() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let mut j = job(
        sshd.linux_target(&sshd.client_key_path()),
        &["hostname"],
        &kh,
    );
    j.host_key_policy = HostKeyPolicy::Strict;
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::HostKeyMismatch);
    assert_eq!(stages.last(), Some(&Stage::HostKey));
    assert!(
        record.message.starts_with("host_key: "),
        "{}",
        record.message
    );
    assert!(record.message.contains("strict"), "{}", record.message);
    assert_eq!(std::fs::read_to_string(&kh).unwrap_or_default(), "");
}

#[test]
fn a_changed_host_key_is_refused_and_not_recorded() {
    let mut sshd = start_sshd();
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let ctx = SessionContext::new();
    let j = job(sshd.linux_target(&sshd.client_key_path()), &["true"], &kh);
    assert_outcome(&run(&j, &ctx).0, Outcome::Ok);
    let recorded = std::fs::read_to_string(&kh).unwrap();

    sshd.restart_with_new_host_key().unwrap();
    let (record, stages) = run(&j, &ctx);
    assert_outcome(&record, Outcome::HostKeyMismatch);
    assert_eq!(stages.last(), Some(&Stage::HostKey));
    assert!(record.outputs.is_empty());
    assert!(record.message.contains("differs"), "{}", record.message);
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), recorded);

    // `off` checks nothing: the same server is reachable again.
    let mut off = j.clone();
    off.host_key_policy = HostKeyPolicy::Off;
    off.known_hosts = None;
    assert_outcome(&run(&off, &ctx).0, Outcome::Ok);
}

#[test]
fn a_key_the_server_does_not_know_is_auth_failed() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let stranger = dir.path().join("stranger");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(status.success());
    let j = job(
        sshd.linux_target(&stranger),
        &["true"],
        &dir.path().join("known_hosts"),
    );
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::AuthFailed);
    assert_eq!(stages.last(), Some(&Stage::Auth));
    assert!(record.message.starts_with("auth: "), "{}", record.message);
    assert!(record.message.contains(sshd.user()), "{}", record.message);
}

#[test]
fn a_missing_key_file_is_auth_failed_naming_the_file() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let missing = dir.path().join("no-such-key");
    let j = job(
        sshd.linux_target(&missing),
        &["true"],
        &dir.path().join("known_hosts"),
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(record.message.contains("no-such-key"), "{}", record.message);
}

#[test]
fn a_password_never_appears_in_the_message() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let mut t = sshd.linux_target(&sshd.client_key_path());
    t.key_file = None;
    t.password = Some(netsweep_protocol::Secret::new("s3cr3t-pa55"));
    let j = job(t, &["true"], &dir.path().join("known_hosts"));
    let (record, _) = run(&j, &SessionContext::new());
    // This sshd takes keys only: the password is never even sent.
    assert_outcome(&record, Outcome::AuthFailed);
    let json = format!("{record:?}");
    assert!(!json.contains("s3cr3t-pa55"), "{json}");
    assert!(record.message.contains("publickey"), "{}", record.message);
}

#[test]
fn connection_refused_is_unreachable_at_connect() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The listener is dropped: nothing listens on `port` any more.
    let dir = temp_dir();
    let t = netsweep_protocol::DeviceTarget {
        name: "gone".into(),
        host: "127.0.0.1".into(),
        port,
        platform: "linux".into(),
        transport: Default::default(),
        username: "nobody".into(),
        password: None,
        secret: None,
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
    };
    let j = job(t, &["true"], &dir.path().join("known_hosts"));
    let (record, stages) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Unreachable);
    assert_eq!(stages, [Stage::Connect]);
    assert!(
        record.message.starts_with("connect: "),
        "{}",
        record.message
    );
    assert!(record.message.contains("refused"), "{}", record.message);
    assert!(record.timings.connect_ms.is_some());
}

#[test]
fn large_and_non_utf8_output_is_kept() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let j = job(
        sshd.linux_target(&sshd.client_key_path()),
        &[
            "head -c 3000000 /dev/zero | tr '\\0' x",
            "printf 'caf\\351\\n'",
        ],
        &dir.path().join("known_hosts"),
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    let big = &record.outputs[0];
    assert_eq!(big.output.len(), 3_000_000);
    assert!(big.output.bytes().all(|b| b == b'x'));
    assert!(!big.truncated && !big.non_utf8);
    let latin1 = &record.outputs[1];
    assert_eq!(latin1.output, "caf\u{fffd}");
    assert!(latin1.non_utf8);
}

#[test]
fn a_command_that_never_finishes_times_out_in_command() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let mut j = job(
        sshd.linux_target(&sshd.client_key_path()),
        &["echo started; sleep 30"],
        &dir.path().join("known_hosts"),
    );
    // Long enough for the login shell to start and print under a loaded machine.
    j.timeouts.command = Duration::from_secs(3);
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
    let partial = &record.outputs[0];
    assert_eq!(partial.output, "started");
    assert!(partial.truncated);
}

#[test]
fn threads_sharing_a_context_record_the_host_key_once() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let ctx = SessionContext::new();
    let j = job(sshd.linux_target(&sshd.client_key_path()), &["true"], &kh);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| run(&j, &ctx).0)).collect();
        for h in handles {
            assert_outcome(&h.join().unwrap(), Outcome::Ok);
        }
    });
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(recorded.lines().count(), 1, "{recorded}");
    assert_eq!(ctx.cached_keys(), 1);
}

#[test]
fn a_key_recorded_by_another_process_is_enforced() {
    let mut sshd = start_sshd();
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let j = job(sshd.linux_target(&sshd.client_key_path()), &["true"], &kh);
    // Two contexts stand for two worker processes sharing the file.
    let (first, second) = (SessionContext::new(), SessionContext::new());
    assert_outcome(&run(&j, &second).0, Outcome::Ok);
    assert_outcome(&run(&j, &first).0, Outcome::Ok);
    assert_eq!(std::fs::read_to_string(&kh).unwrap().lines().count(), 1);
    sshd.restart_with_new_host_key().unwrap();
    assert_outcome(&run(&j, &first).0, Outcome::HostKeyMismatch);
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::HostKeyMismatch);
}

#[test]
fn a_hashed_entry_written_by_openssh_is_honoured() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let key: Vec<String> = sshd
        .host_key_line()
        .split_whitespace()
        .take(2)
        .map(str::to_string)
        .collect();
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{} {}\n", sshd.port(), key.join(" ")),
    )
    .unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-H", "-f"])
        .arg(&kh)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read_to_string(&kh).unwrap().starts_with("|1|"));
    let mut j = job(sshd.linux_target(&sshd.client_key_path()), &["true"], &kh);
    j.host_key_policy = HostKeyPolicy::Strict;
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Ok);
}

#[test]
fn a_key_without_its_pub_file_still_logs_in() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let lone = dir.path().join("lone_key");
    std::fs::copy(sshd.client_key_path(), &lone).unwrap();
    let j = job(
        sshd.linux_target(&lone),
        &["true"],
        &dir.path().join("known_hosts"),
    );
    assert_outcome(&run(&j, &SessionContext::new()).0, Outcome::Ok);
}

#[test]
fn output_beyond_the_cap_is_dropped_and_flagged() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let over = netsweep_device::MAX_OUTPUT_BYTES + 100_000;
    let command = format!("head -c {over} /dev/zero | tr '\\0' x; echo done >&2");
    let j = job(
        sshd.linux_target(&sshd.client_key_path()),
        &[&command],
        &dir.path().join("known_hosts"),
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    let out = &record.outputs[0];
    assert!(out.truncated);
    assert_eq!(out.output.len(), netsweep_device::MAX_OUTPUT_BYTES);
    assert_eq!(out.stderr.as_deref(), Some("done"));
    assert_eq!(out.exit_status, Some(0));
}

#[test]
fn megabytes_on_stderr_do_not_stall_stdout() {
    let sshd = start_sshd();
    let dir = temp_dir();
    // More than libssh2's 2 MiB channel window on stderr before anything on stdout.
    let j = job(
        sshd.linux_target(&sshd.client_key_path()),
        &["head -c 3000000 /dev/zero | tr '\\0' e >&2; echo out"],
        &dir.path().join("known_hosts"),
    );
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    let out = &record.outputs[0];
    assert_eq!(out.output, "out");
    assert_eq!(out.stderr.as_ref().map(String::len), Some(3_000_000));
}

#[test]
fn the_recorded_key_type_is_asked_for_first() {
    let sshd = Sshd::start_with_rsa_host_key().unwrap_or_else(|e| panic!("{e}"));
    let dir = temp_dir();
    let kh = dir.path().join("known_hosts");
    let rsa = sshd.rsa_host_key_line().expect("an RSA host key");
    for recorded in [rsa, sshd.host_key_line()] {
        let key: Vec<&str> = recorded.split_whitespace().take(2).collect();
        std::fs::write(
            &kh,
            format!("[127.0.0.1]:{} {}\n", sshd.port(), key.join(" ")),
        )
        .unwrap();
        let mut j = job(sshd.linux_target(&sshd.client_key_path()), &["true"], &kh);
        j.host_key_policy = HostKeyPolicy::Strict;
        let (record, _) = run(&j, &SessionContext::new());
        assert_outcome(&record, Outcome::Ok);
    }
}

/// Where the agent test's child finds its server (set by the parent test).
/// How a test hands its sshd to the child test it runs (see [`run_child_test`]).
const CHILD_PORT_VAR: &str = "NETSWEEP_CHILD_TEST_PORT";
const CHILD_USER_VAR: &str = "NETSWEEP_CHILD_TEST_USER";

/// Runs the ignored test `name` of this test binary in a child process against `sshd`, with
/// `SSH_AUTH_SOCK` set to `agent` or, without one, removed: setting or clearing it in this
/// process would race the other tests, and a developer's own agent may hold a key this
/// server accepts. Asserts that the child test ran and passed.
fn run_child_test(name: &str, sshd: &Sshd, agent: Option<&Path>) {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", name, "--ignored"])
        .env(CHILD_PORT_VAR, sshd.port().to_string())
        .env(CHILD_USER_VAR, sshd.user());
    match agent {
        Some(socket) => child.env("SSH_AUTH_SOCK", socket),
        None => child.env_remove("SSH_AUTH_SOCK"),
    };
    let out = child.output().expect("run the child test");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(log.contains("1 passed"), "{log}");
}

/// In a child test: the parent's sshd as a `linux` device with no password and no key.
fn child_target() -> DeviceTarget {
    let port: u16 = std::env::var(CHILD_PORT_VAR)
        .expect("run by run_child_test")
        .parse()
        .unwrap();
    DeviceTarget {
        name: "child".into(),
        host: "127.0.0.1".into(),
        port,
        platform: "linux".into(),
        transport: Default::default(),
        username: std::env::var(CHILD_USER_VAR).expect("run by run_child_test"),
        password: None,
        secret: None,
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
    }
}

/// An ssh-agent of the test's own, stopped when dropped.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn with_no_password_or_key_the_agent_logs_in() {
    let sshd = start_sshd();
    let dir = temp_dir();
    let socket = dir.path().join("agent.sock");
    let _agent = Agent(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start ssh-agent"),
    );
    poll_until(Duration::from_secs(10), "the agent's socket", || {
        socket.exists()
    });
    let added = Command::new("ssh-add")
        .arg("-q")
        .arg(sshd.client_key_path())
        .env("SSH_AUTH_SOCK", &socket)
        .status()
        .expect("run ssh-add");
    assert!(added.success());
    // The login itself runs in a child (this test binary, the test below).
    run_child_test("linux::agent_child_logs_in", &sshd, Some(&socket));
}

#[test]
#[ignore = "run by with_no_password_or_key_the_agent_logs_in, under ssh-agent"]
fn agent_child_logs_in() {
    let dir = temp_dir();
    let t = child_target();
    let j = job(t, &["echo via agent"], &dir.path().join("known_hosts"));
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::Ok);
    assert_eq!(record.outputs[0].output, "via agent");
}

#[test]
fn with_no_credentials_and_no_agent_auth_fails_clearly() {
    let sshd = start_sshd();
    run_child_test("linux::no_agent_child_fails_clearly", &sshd, None);
}

#[test]
#[ignore = "run by with_no_credentials_and_no_agent_auth_fails_clearly, without SSH_AUTH_SOCK"]
fn no_agent_child_fails_clearly() {
    assert!(std::env::var_os("SSH_AUTH_SOCK").is_none());
    let dir = temp_dir();
    let j = job(child_target(), &["true"], &dir.path().join("known_hosts"));
    let (record, _) = run(&j, &SessionContext::new());
    assert_outcome(&record, Outcome::AuthFailed);
    assert!(record.message.contains("ssh-agent"), "{}", record.message);
}
