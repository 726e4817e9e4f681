//! Why a session failed, as a typed error, and how each error maps onto the protocol's
//! [`Outcome`] and a one-sentence message.
//!
//! Messages name the stage and what to check; they must never contain a credential (nothing
//! here ever holds one: device text is only kept as the specific marker line it matched).
//!
//! Transport-neutral: no variant's type names a transport's library. A transport keeps its own
//! detail as a [`Cause`] (its error's `Display` is the words appended to the message), and
//! classifies its own errors into these variants (see `ssh::classify`).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use netsweep_protocol::{CommandOutput, Outcome, Stage};

/// The underlying error a transport reports a failure with (libssh2's, the OS's).
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync>;

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
        source: Option<Cause>,
    },
    #[error("the device said something netsweep could not understand: {detail}")]
    Protocol {
        stage: Stage,
        detail: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("the device and netsweep agreed on no algorithm")]
    KexFailed {
        #[source]
        source: Cause,
    },
    #[error("the device offers only {offered}, none of which netsweep offers")]
    NoCommonAlgorithm { offered: String, advice: String },
    #[error("{detail}")]
    Settings { detail: String },
    #[error("jump host {hop}: {source}")]
    JumpHost {
        hop: String,
        #[source]
        source: Box<SessionError>,
    },
    #[error("jump host {hop} could not connect to {target} ({detail})")]
    JumpUnreachable {
        hop: String,
        target: String,
        detail: String,
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
    #[error("the device could not check the credentials: it said {notice:?}")]
    AuthUnavailable { notice: String },
    #[error("could not read key file {}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not use key file {}{}", path.display(), key_trouble(*passphrase_given, *encrypted))]
    KeyUnusable {
        path: PathBuf,
        passphrase_given: bool,
        encrypted: bool,
    },
    #[error("no password or key file is configured for user {user} and ssh-agent did not log in")]
    NoCredentials {
        user: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("the device asks for a password and none is configured for user {user}")]
    NoPassword { user: String },
    #[error("the device refused privileged mode{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    EnableRejected { detail: Option<String> },
    #[error("the device asks for an enable secret and none is configured")]
    NoEnableSecret,
    #[error("no driver for platform {platform:?} (supported: {supported})")]
    UnknownPlatform { platform: String, supported: String },
    #[error(
        "command {written:?} failed: platform {platform} has no command for it (the device was not contacted)"
    )]
    UnmappedCommand { written: String, platform: String },
    #[error("the platform could not be recognised: {detail}")]
    Undetected { detail: String },
}

fn key_trouble(passphrase_given: bool, encrypted: bool) -> &'static str {
    match (passphrase_given, encrypted) {
        (false, true) => ": it is encrypted and no passphrase is configured",
        (true, _) => ": wrong passphrase, or a key format libssh2 cannot read",
        (false, false) => ": libssh2 cannot read its format",
    }
}

pub(crate) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 && s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} ms", s * 1000.0)
    }
}

impl SessionError {
    /// The stage a failure belongs to, for errors that do not carry one.
    fn stage(&self, default: Stage) -> Stage {
        match self {
            SessionError::Resolve { .. }
            | SessionError::Refused { .. }
            | SessionError::ConnectTimeout { .. }
            | SessionError::Connect { .. }
            | SessionError::JumpHost { .. }
            | SessionError::JumpUnreachable { .. } => Stage::Connect,
            SessionError::Timeout { stage, .. }
            | SessionError::DeviceDeadline { stage, .. }
            | SessionError::Lost { stage, .. }
            | SessionError::Protocol { stage, .. } => *stage,
            SessionError::KexFailed { .. }
            | SessionError::NoCommonAlgorithm { .. }
            | SessionError::Settings { .. } => Stage::Handshake,
            SessionError::HostKeyChanged { .. }
            | SessionError::HostKeyUnknown { .. }
            | SessionError::NoKnownHostsFile { .. }
            | SessionError::KnownHosts { .. } => Stage::HostKey,
            SessionError::AuthRejected { .. }
            | SessionError::AuthUnavailable { .. }
            | SessionError::KeyFile { .. }
            | SessionError::KeyUnusable { .. }
            | SessionError::NoCredentials { .. }
            | SessionError::NoPassword { .. } => Stage::Auth,
            SessionError::EnableRejected { .. } | SessionError::NoEnableSecret => Stage::Enable,
            SessionError::UnknownPlatform { .. } | SessionError::UnmappedCommand { .. } => default,
            SessionError::Undetected { .. } => Stage::Prompt,
        }
    }

    /// The protocol outcome for this failure.
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            SessionError::Resolve { .. }
            | SessionError::Refused { .. }
            | SessionError::ConnectTimeout { .. }
            | SessionError::Connect { .. }
            | SessionError::JumpUnreachable { .. } => Outcome::Unreachable,
            // A jump host that cannot be reached, hangs or drops the connection makes its
            // devices unreachable; its refusals (credentials, host key) are the devices' too.
            SessionError::JumpHost { source, .. } => match source.outcome() {
                Outcome::TimedOut { .. } | Outcome::ConnectionLost { .. } => Outcome::Unreachable,
                other => other,
            },
            SessionError::Timeout { stage, .. } | SessionError::DeviceDeadline { stage, .. } => {
                Outcome::TimedOut { stage: *stage }
            }
            SessionError::Lost { stage, .. } => Outcome::ConnectionLost { stage: *stage },
            SessionError::Protocol { .. }
            | SessionError::UnknownPlatform { .. }
            | SessionError::KexFailed { .. }
            | SessionError::NoCommonAlgorithm { .. }
            | SessionError::Settings { .. }
            | SessionError::Undetected { .. } => Outcome::ProtocolError,
            SessionError::UnmappedCommand { .. } => Outcome::CommandError,
            SessionError::HostKeyChanged { .. }
            | SessionError::HostKeyUnknown { .. }
            | SessionError::NoKnownHostsFile { .. }
            | SessionError::KnownHosts { .. } => Outcome::HostKeyMismatch,
            SessionError::AuthRejected { .. }
            | SessionError::KeyFile { .. }
            | SessionError::KeyUnusable { .. }
            | SessionError::NoCredentials { .. }
            | SessionError::NoPassword { .. } => Outcome::AuthFailed,
            SessionError::AuthUnavailable { .. } => Outcome::AuthUnavailable,
            SessionError::EnableRejected { .. } | SessionError::NoEnableSecret => {
                Outcome::EnableFailed
            }
        }
    }

    /// One human sentence: the stage, what happened (and during which command, if any), what
    /// to check.
    pub(crate) fn message(&self, current: Stage, command: Option<&str>) -> String {
        let stage = self.stage(current);
        if let SessionError::JumpHost { hop, source } = self {
            // The hop's own failure, told as the device's connect stage.
            let inner = source.message(Stage::Connect, None);
            let inner = inner
                .split_once(": ")
                .map_or(inner.as_str(), |(_, rest)| rest);
            return format!("{stage}: jump host {hop}: {inner}");
        }
        let advice = match self {
            SessionError::Resolve { .. } => "check the host name",
            SessionError::Refused { .. } => {
                "check the address, the port and that the device's SSH (or telnet) service is enabled"
            }
            SessionError::ConnectTimeout { .. } | SessionError::Connect { .. } => {
                "check the address and that the device is reachable"
            }
            SessionError::Timeout { .. } => {
                "the device may be hung or overloaded, or the command timeout too short"
            }
            SessionError::DeviceDeadline { .. } => {
                "the device is too slow for the deadline; raise --deadline if that is expected"
            }
            SessionError::Lost {
                stage: Stage::Auth, ..
            } => {
                "devices do so during login when their AAA server (TACACS+/RADIUS) does not answer; --retries retries it"
            }
            SessionError::Lost { .. } => "the device or something in between dropped the session",
            SessionError::Protocol { .. } => "check the platform (device_type) and the device",
            SessionError::JumpHost { .. } => "check the jump host",
            SessionError::JumpUnreachable { .. } => {
                "check the device's address as the jump host sees it, and that the jump host allows TCP forwarding (AllowTcpForwarding)"
            }
            SessionError::KexFailed { .. } => {
                "the device may offer only algorithms netsweep does not offer by default; try `legacy_algorithms: true`"
            }
            SessionError::NoCommonAlgorithm { advice, .. } => advice.as_str(),
            SessionError::Settings { .. } => {
                "check the device's SSH settings (inventory, ssh_config)"
            }
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
            SessionError::AuthUnavailable { .. } => {
                "its AAA server (TACACS+/RADIUS) is down or overloaded; --retries retries it, --connect-rate spares the server"
            }
            SessionError::KeyFile { .. } => "check the key_file path and its permissions",
            SessionError::KeyUnusable { .. } => {
                "give the key's passphrase with key_passphrase_env or key_passphrase_file, or check the key"
            }
            SessionError::NoCredentials { .. } => "configure a password or key_file",
            SessionError::NoPassword { .. } => "configure the device's password",
            SessionError::EnableRejected { .. } => "check the enable secret",
            SessionError::NoEnableSecret => "configure the device's secret",
            SessionError::UnknownPlatform { .. } => "check the device_type",
            SessionError::UnmappedCommand { .. } => {
                "give the named command a command for this platform in a --commands file"
            }
            SessionError::Undetected { .. } => {
                "set the device's device_type, or define its platform (--platforms)"
            }
        };
        let mut what = self.to_string();
        // Append the most specific cause (libssh2's or the OS's words) when it adds something.
        let cause_helps = !matches!(self, SessionError::Lost { .. });
        if let Some(source) = std::error::Error::source(self).filter(|_| cause_helps) {
            let cause = source.to_string();
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

/// A failed command, with whatever output had arrived before the failure.
pub(crate) struct CommandFailure {
    pub(crate) error: SessionError,
    pub(crate) partial: Option<Box<CommandOutput>>,
}

impl From<SessionError> for CommandFailure {
    fn from(error: SessionError) -> Self {
        CommandFailure {
            error,
            partial: None,
        }
    }
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
        let e = SessionError::AuthUnavailable {
            notice: "% Error in authentication.".into(),
        };
        assert_eq!(e.outcome(), Outcome::AuthUnavailable);
        assert!(e.outcome().is_transient());
        let m = e.message(Stage::Auth, None);
        assert!(
            m.starts_with("auth: the device could not check the credentials: it said \"% Error in authentication.\""),
            "{m}"
        );
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
}
