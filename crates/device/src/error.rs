//! Why a session failed, as a typed error, and how each error maps onto the protocol's
//! [`Outcome`] and a one-sentence message.
//!
//! Messages name the stage and what to check; they must never contain a credential (nothing
//! here ever holds one: device text is only kept as the specific marker line it matched).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use netsweep_protocol::{Outcome, Stage};

/// A session failure, with the stage it happened in where that is not implied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error("could not resolve host {host}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("{addr} refused the connection")]
    Refused { addr: String },
    #[error("no answer from {addr} within {}", secs(*waited))]
    ConnectTimeout { addr: String, waited: Duration },
    #[error("could not connect to {addr}")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("the device did not finish answering within {}", secs(*waited))]
    Timeout { stage: Stage, waited: Duration },
    #[error("the device's overall deadline of {} ran out", secs(*total))]
    DeviceDeadline { stage: Stage, total: Duration },
    #[error("the device closed the connection")]
    Lost {
        stage: Stage,
        #[source]
        source: Option<ssh2::Error>,
    },
    #[error("the device said something netsweep could not understand: {detail}")]
    Protocol {
        stage: Stage,
        detail: String,
        #[source]
        source: Option<ssh2::Error>,
    },
    #[error("the host key of {entry} differs from the one recorded in {}", file.display())]
    HostKeyChanged { entry: String, file: PathBuf },
    #[error("{entry} is not in {} and the host key policy is strict", file.display())]
    HostKeyUnknown { entry: String, file: PathBuf },
    #[error("host key policy {policy} needs a known_hosts file and the job names none")]
    NoKnownHostsFile { policy: &'static str },
    #[error("could not use known_hosts file {}: {detail}", file.display())]
    KnownHosts { file: PathBuf, detail: String },
    #[error("the device rejected user {user} (tried {tried})")]
    AuthRejected { user: String, tried: String },
    #[error("could not read key file {}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no password or key file is configured for user {user} and ssh-agent did not log in")]
    NoCredentials {
        user: String,
        #[source]
        source: Option<ssh2::Error>,
    },
    #[error("the device refused privileged mode{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    EnableRejected { detail: Option<String> },
    #[error("the device asks for an enable secret and none is configured")]
    NoEnableSecret,
    #[error("no driver for platform {platform:?} (supported: {supported})")]
    UnknownPlatform { platform: String, supported: String },
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 && s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} ms", s * 1000.0)
    }
}

impl SessionError {
    /// Classifies a libssh2 error raised while in `stage`.
    pub(crate) fn from_ssh(stage: Stage, err: ssh2::Error, waited: Duration) -> SessionError {
        use libssh2_codes::*;
        match err.code() {
            ssh2::ErrorCode::Session(TIMEOUT) => SessionError::Timeout { stage, waited },
            ssh2::ErrorCode::Session(
                SOCKET_DISCONNECT | SOCKET_RECV | SOCKET_SEND | BANNER_RECV | BANNER_SEND
                | CHANNEL_CLOSED | CHANNEL_EOF_SENT | BAD_SOCKET,
            ) => SessionError::Lost {
                stage,
                source: Some(err),
            },
            _ => SessionError::Protocol {
                stage,
                detail: err.message().to_string(),
                source: Some(err),
            },
        }
    }

    /// The stage a failure belongs to, for errors that do not carry one.
    fn stage(&self, default: Stage) -> Stage {
        match self {
            SessionError::Resolve { .. }
            | SessionError::Refused { .. }
            | SessionError::ConnectTimeout { .. }
            | SessionError::Connect { .. } => Stage::Connect,
            SessionError::Timeout { stage, .. }
            | SessionError::DeviceDeadline { stage, .. }
            | SessionError::Lost { stage, .. }
            | SessionError::Protocol { stage, .. } => *stage,
            SessionError::HostKeyChanged { .. }
            | SessionError::HostKeyUnknown { .. }
            | SessionError::NoKnownHostsFile { .. }
            | SessionError::KnownHosts { .. } => Stage::HostKey,
            SessionError::AuthRejected { .. }
            | SessionError::KeyFile { .. }
            | SessionError::NoCredentials { .. } => Stage::Auth,
            SessionError::EnableRejected { .. } | SessionError::NoEnableSecret => Stage::Enable,
            SessionError::UnknownPlatform { .. } => default,
        }
    }

    /// The protocol outcome for this failure.
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            SessionError::Resolve { .. }
            | SessionError::Refused { .. }
            | SessionError::ConnectTimeout { .. }
            | SessionError::Connect { .. } => Outcome::Unreachable,
            SessionError::Timeout { stage, .. } | SessionError::DeviceDeadline { stage, .. } => {
                Outcome::TimedOut { stage: *stage }
            }
            SessionError::Lost { stage, .. } => Outcome::ConnectionLost { stage: *stage },
            SessionError::Protocol { .. } | SessionError::UnknownPlatform { .. } => {
                Outcome::ProtocolError
            }
            SessionError::HostKeyChanged { .. }
            | SessionError::HostKeyUnknown { .. }
            | SessionError::NoKnownHostsFile { .. }
            | SessionError::KnownHosts { .. } => Outcome::HostKeyMismatch,
            SessionError::AuthRejected { .. }
            | SessionError::KeyFile { .. }
            | SessionError::NoCredentials { .. } => Outcome::AuthFailed,
            SessionError::EnableRejected { .. } | SessionError::NoEnableSecret => {
                Outcome::EnableFailed
            }
        }
    }

    /// One human sentence: the stage, what happened (and during which command, if any), what
    /// to check.
    pub(crate) fn message(&self, current: Stage, command: Option<&str>) -> String {
        let stage = self.stage(current);
        let advice = match self {
            SessionError::Resolve { .. } => "check the host name",
            SessionError::Refused { .. } => "check the address, the port and that SSH is enabled",
            SessionError::ConnectTimeout { .. } | SessionError::Connect { .. } => {
                "check the address and that the device is reachable"
            }
            SessionError::Timeout { .. } => {
                "the device may be hung or overloaded, or the command timeout too short"
            }
            SessionError::DeviceDeadline { .. } => {
                "the device is too slow for the deadline; raise --deadline if that is expected"
            }
            SessionError::Lost { .. } => "the device or something in between dropped the session",
            SessionError::Protocol { .. } => "check the platform (device_type) and the device",
            SessionError::HostKeyChanged { .. } => {
                "if the device was replaced or re-keyed, remove its old entry; otherwise this may be an attack"
            }
            SessionError::HostKeyUnknown { .. } => {
                "add its key to the known_hosts file or use --host-key-policy accept-new"
            }
            SessionError::NoKnownHostsFile { .. } | SessionError::KnownHosts { .. } => {
                "check the known_hosts path and its permissions"
            }
            SessionError::AuthRejected { .. } => "check the username, password or key",
            SessionError::KeyFile { .. } => "check the key_file path and its permissions",
            SessionError::NoCredentials { .. } => "configure a password or key_file",
            SessionError::EnableRejected { .. } => "check the enable secret",
            SessionError::NoEnableSecret => "configure the device's secret",
            SessionError::UnknownPlatform { .. } => "check the device_type",
        };
        let mut what = self.to_string();
        // Append the most specific cause (libssh2's or the OS's words) when it adds something.
        let cause_helps = !matches!(self, SessionError::Lost { .. });
        if let Some(source) = std::error::Error::source(self).filter(|_| cause_helps) {
            // libssh2's own words, without the numeric code ssh2's Display puts first.
            let cause = match source.downcast_ref::<ssh2::Error>() {
                Some(e) => e.message().to_string(),
                None => source.to_string(),
            };
            if !cause.is_empty() && !what.contains(&cause) {
                what = format!("{what}: {cause}");
            }
        }
        if let Some(command) = command.filter(|_| stage == Stage::Command) {
            what = format!("{what} while running {command:?}");
        }
        format!("{stage}: {what}; {advice}")
    }
}

/// libssh2's error codes, named (ssh2 exposes them only as numbers).
mod libssh2_codes {
    pub const BANNER_RECV: i32 = -2;
    pub const BANNER_SEND: i32 = -3;
    pub const SOCKET_SEND: i32 = -7;
    pub const TIMEOUT: i32 = -9;
    pub const SOCKET_DISCONNECT: i32 = -13;
    pub const CHANNEL_CLOSED: i32 = -26;
    pub const CHANNEL_EOF_SENT: i32 = -27;
    pub const SOCKET_RECV: i32 = -43;
    pub const BAD_SOCKET: i32 = -45;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_stage_and_give_advice() {
        let e = SessionError::Timeout {
            stage: Stage::Command,
            waited: Duration::from_secs(30),
        };
        assert_eq!(
            e.outcome(),
            Outcome::TimedOut {
                stage: Stage::Command
            }
        );
        let m = e.message(Stage::Command, Some("show tech"));
        let expected = "command: the device did not finish answering within 30 s \
                        while running \"show tech\"; ";
        assert!(m.starts_with(expected), "{m}");
        // Outside the command stage there is no command to name.
        let at_prompt = SessionError::Timeout {
            stage: Stage::Prompt,
            waited: Duration::from_secs(30),
        };
        let m = at_prompt.message(Stage::Prompt, Some("x"));
        assert!(!m.contains("while running"), "{m}");
        let e = SessionError::AuthRejected {
            user: "cisco".into(),
            tried: "password".into(),
        };
        assert_eq!(e.outcome(), Outcome::AuthFailed);
        assert!(
            e.message(Stage::Auth, None)
                .starts_with("auth: the device rejected user cisco")
        );
    }

    #[test]
    fn libssh2_errors_are_classified_by_code() {
        let lost = SessionError::from_ssh(
            Stage::Command,
            ssh2::Error::from_errno(ssh2::ErrorCode::Session(-13)),
            Duration::ZERO,
        );
        assert_eq!(
            lost.outcome(),
            Outcome::ConnectionLost {
                stage: Stage::Command
            }
        );
        let timeout = SessionError::from_ssh(
            Stage::Handshake,
            ssh2::Error::from_errno(ssh2::ErrorCode::Session(-9)),
            Duration::from_millis(250),
        );
        assert!(timeout.message(Stage::Handshake, None).contains("250 ms"));
        let kex = SessionError::from_ssh(
            Stage::Handshake,
            ssh2::Error::from_errno(ssh2::ErrorCode::Session(-5)),
            Duration::ZERO,
        );
        assert_eq!(kex.outcome(), Outcome::ProtocolError);
    }
}
