//! Host key checking against netsweep's own OpenSSH-format known_hosts file.
//!
//! Several worker processes (and threads) may append to one file at once, so every read and
//! append happens under an exclusive `flock` on the file (plus a process mutex, since threads
//! of one process each open their own descriptor). A changed key is never accepted, whatever
//! the policy, except `off`, which checks nothing.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::PoisonError;

use netsweep_protocol::HostKeyPolicy;
use nix::fcntl::{Flock, FlockArg};
use ssh2::{CheckResult, KnownHostFileKind, KnownHostKeyFormat};

use crate::context::SessionContext;
use crate::error::SessionError;

/// The name OpenSSH files a host under: `host`, or `[host]:port` off port 22.
pub(crate) fn entry_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Checks the session's host key under `policy`, recording it under `accept-new` when the
/// host is not known yet.
pub(crate) fn verify(
    session: &ssh2::Session,
    ctx: &SessionContext,
    policy: HostKeyPolicy,
    file: Option<&Path>,
    host: &str,
    port: u16,
) -> Result<(), SessionError> {
    let policy_name = match policy {
        HostKeyPolicy::Off => return Ok(()),
        HostKeyPolicy::Strict => "strict",
        HostKeyPolicy::AcceptNew => "accept-new",
    };
    let file = file.ok_or(SessionError::NoKnownHostsFile {
        policy: policy_name,
    })?;
    let (key, key_type) = session.host_key().ok_or_else(|| SessionError::Protocol {
        stage: netsweep_protocol::Stage::HostKey,
        detail: "the server sent no host key".into(),
        source: None,
    })?;
    let entry = entry_name(host, port);
    let known_hosts_error = |detail: String| SessionError::KnownHosts {
        file: file.to_path_buf(),
        detail,
    };

    let _in_process = ctx
        .known_hosts_lock
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let handle = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| known_hosts_error(e.to_string()))?;
    let mut locked: Flock<File> = Flock::lock(handle, FlockArg::LockExclusive)
        .map_err(|(_, errno)| known_hosts_error(format!("could not lock it: {errno}")))?;

    let mut known = session
        .known_hosts()
        .map_err(|e| known_hosts_error(e.to_string()))?;
    known
        .read_file(file, KnownHostFileKind::OpenSSH)
        .map_err(|e| known_hosts_error(format!("could not parse it: {e}")))?;
    match known.check_port(host, port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(SessionError::HostKeyChanged {
            entry,
            file: file.to_path_buf(),
        }),
        CheckResult::NotFound if policy == HostKeyPolicy::Strict => {
            Err(SessionError::HostKeyUnknown {
                entry,
                file: file.to_path_buf(),
            })
        }
        CheckResult::NotFound => {
            let line = openssh_line(session, &entry, key, KnownHostKeyFormat::from(key_type))
                .map_err(|e| known_hosts_error(format!("could not encode the key: {e}")))?;
            locked
                .write_all(line.as_bytes())
                .and_then(|()| locked.sync_data())
                .map_err(|e| known_hosts_error(format!("could not append to it: {e}")))?;
            tracing::info!(entry = %entry, "recorded a new host key");
            Ok(())
        }
        CheckResult::Failure => Err(known_hosts_error("libssh2 could not check it".into())),
    }
}

/// One known_hosts line for `entry`, written by libssh2 itself so the format is exactly what
/// its reader expects.
fn openssh_line(
    session: &ssh2::Session,
    entry: &str,
    key: &[u8],
    format: KnownHostKeyFormat,
) -> Result<String, ssh2::Error> {
    let mut single = session.known_hosts()?;
    single.add(entry, key, "", format)?;
    let hosts = single.hosts()?;
    let host = hosts
        .first()
        .ok_or_else(|| ssh2::Error::new(ssh2::ErrorCode::Session(-46), "added host is missing"))?;
    let mut line = single.write_string(host, KnownHostFileKind::OpenSSH)?;
    if !line.ends_with('\n') {
        line.push('\n');
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_openssh_naming() {
        assert_eq!(entry_name("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(entry_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }
}
