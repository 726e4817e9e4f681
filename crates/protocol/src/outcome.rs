//! How a device's sweep ended, and the record that says so.
//!
//! [`DeviceRecord`] is the one schema for a device's result: `--format json`/`jsonl` print it,
//! the journal stores it, `netsweep report` reads it back. Its JSON field names are a public
//! interface; add fields, do not rename them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where in a device's life something happened. Each stage is timed, and every failure names
/// the stage it happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting for a worker (never reported by a device session itself).
    Queued,
    /// TCP connect.
    Connect,
    /// SSH banner exchange and key exchange; over telnet, option negotiation until the device
    /// asks for a login (or shows its prompt).
    Handshake,
    /// Checking the server's host key against known_hosts.
    HostKey,
    /// User authentication (over telnet: answering the login and password prompts).
    Auth,
    /// Opening the shell, learning the prompt, turning paging off.
    Prompt,
    /// Entering privileged mode.
    Enable,
    /// Running the commands.
    Command,
    /// Leaving the device.
    Close,
}

impl Stage {
    /// Every stage, in the order a session goes through them.
    pub const ALL: [Stage; 9] = [
        Stage::Queued,
        Stage::Connect,
        Stage::Handshake,
        Stage::HostKey,
        Stage::Auth,
        Stage::Prompt,
        Stage::Enable,
        Stage::Command,
        Stage::Close,
    ];

    /// The lowercase name used in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Connect => "connect",
            Stage::Handshake => "handshake",
            Stage::HostKey => "host_key",
            Stage::Auth => "auth",
            Stage::Prompt => "prompt",
            Stage::Enable => "enable",
            Stage::Command => "command",
            Stage::Close => "close",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The final classification of one device's sweep (or of one attempt of it).
///
/// Serialized inline into [`DeviceRecord`] as `"status": "<class>"` plus the variant's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Every command ran and none reported an error.
    Ok,
    /// The session worked but at least one command reported an error (`% Invalid input`,
    /// a non-zero exit status).
    CommandError,
    /// The device rejected the credentials.
    AuthFailed,
    /// The device could not check the credentials: it said its AAA server (TACACS+,
    /// RADIUS) is unreachable or timed out. Unlike a rejection, this goes away on its own.
    AuthUnavailable,
    /// Privileged mode was refused (wrong or missing secret).
    EnableFailed,
    /// Nothing answered: connection refused, no route, or the TCP connect timed out.
    Unreachable,
    /// The device stopped answering; `stage` is where it was.
    TimedOut {
        /// The stage that was running when time ran out.
        stage: Stage,
    },
    /// The host key differs from the one recorded (or is unknown under `strict`).
    HostKeyMismatch,
    /// The connection closed under us; `stage` is where.
    ConnectionLost {
        /// The stage that was running when the connection was lost.
        stage: Stage,
    },
    /// The device (or a worker) spoke something we could not understand.
    ProtocolError,
    /// The worker process running the device died.
    WorkerCrashed {
        /// The stage the worker last reported.
        stage: Stage,
        /// The signal that killed it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// Its exit code, if it exited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
    },
    /// The sweep was interrupted before the device finished.
    Cancelled,
    /// A configuration change failed: the device refused a line (or its template could not
    /// be rendered); `change` in the record names the line and the answer.
    ConfigError,
}

/// The class names of [`Outcome`], one list for [`Outcome::class`] and [`Outcome::CLASSES`]:
/// the `match` it makes is exhaustive, so a new variant without a name does not compile.
macro_rules! outcome_classes {
    ($($variant:ident => $class:literal,)*) => {
        impl Outcome {
            /// The class name, as in `"status"`.
            pub fn class(&self) -> &'static str {
                match self {
                    $(Outcome::$variant { .. } => $class,)*
                }
            }

            /// Every class name, in a stable order for summaries.
            pub const CLASSES: [&'static str; [$($class),*].len()] = [$($class),*];
        }
    };
}

outcome_classes! {
    Ok => "ok",
    CommandError => "command_error",
    AuthFailed => "auth_failed",
    AuthUnavailable => "auth_unavailable",
    EnableFailed => "enable_failed",
    Unreachable => "unreachable",
    TimedOut => "timed_out",
    HostKeyMismatch => "host_key_mismatch",
    ConnectionLost => "connection_lost",
    ProtocolError => "protocol_error",
    WorkerCrashed => "worker_crashed",
    Cancelled => "cancelled",
    ConfigError => "config_error",
}

impl Outcome {
    /// True only for [`Outcome::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// Failures that may go away on another try. Rejected credentials and host keys never
    /// do: retrying them only locks accounts and hides attacks. A device whose AAA server
    /// did not answer rejected nothing.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Outcome::Unreachable
                | Outcome::AuthUnavailable
                | Outcome::TimedOut { .. }
                | Outcome::ConnectionLost { .. }
                | Outcome::WorkerCrashed { .. }
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::TimedOut { stage } | Outcome::ConnectionLost { stage } => {
                write!(f, "{} ({stage})", self.class())
            }
            Outcome::WorkerCrashed {
                stage,
                signal,
                exit_code,
            } => {
                write!(f, "worker_crashed ({stage}")?;
                if let Some(s) = signal {
                    write!(f, ", signal {s}")?;
                }
                if let Some(c) = exit_code {
                    write!(f, ", exit code {c}")?;
                }
                f.write_str(")")
            }
            _ => f.write_str(self.class()),
        }
    }
}

/// One command's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The command as sent.
    pub command: String,
    /// The named command it was sent for (`version` for `-c @version`), if it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the device printed, echo and prompt stripped, `\r` removed. Lossy UTF-8 when
    /// `non_utf8` is set.
    pub output: String,
    /// Standard error, for platforms with exec channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Exit status, for platforms with exec channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// The device's error message if the command failed (e.g. `% Invalid input ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The output held bytes that are not UTF-8 (replaced with U+FFFD in `output`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_utf8: bool,
    /// The output was cut short (size cap, or the session ended mid-output).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// How long the command took, in milliseconds.
    #[serde(default)]
    pub elapsed_ms: f64,
    /// The rows a TextFSM template gave for `output` (`--parse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed: Option<crate::ParsedRows>,
    /// Why `output` could not be parsed (`--parse`: no template, or the template rejected
    /// it); the raw output is kept all the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// Milliseconds spent in each stage of a device's sweep. Stages not reached are absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// TCP connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    /// SSH handshake (including the host key check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_ms: Option<f64>,
    /// Authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_ms: Option<f64>,
    /// Shell, prompt and paging set-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_ms: Option<f64>,
    /// Enable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ms: Option<f64>,
    /// All commands together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands_ms: Option<f64>,
    /// Everything, from dispatch to outcome.
    #[serde(default)]
    pub total_ms: f64,
}

impl Timings {
    /// Records `ms` against `stage` (stages without a field of their own are folded into
    /// the nearest one that has).
    pub fn record(&mut self, stage: Stage, ms: f64) {
        let slot = match stage {
            Stage::Queued | Stage::Close => return,
            Stage::Connect => &mut self.connect_ms,
            Stage::Handshake | Stage::HostKey => &mut self.handshake_ms,
            Stage::Auth => &mut self.auth_ms,
            Stage::Prompt => &mut self.prompt_ms,
            Stage::Enable => &mut self.enable_ms,
            Stage::Command => &mut self.commands_ms,
        };
        *slot = Some(slot.unwrap_or(0.0) + ms);
    }
}

/// A past attempt of a device that was retried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptSummary {
    /// 1-based attempt number.
    pub attempt: u32,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Its message.
    pub message: String,
    /// The worker that ran it.
    pub worker: String,
}

/// The final result for one device: the report line, the journal record, the JSON object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Inventory name.
    pub device: String,
    /// Address connected to.
    pub host: String,
    /// Port connected to.
    pub port: u16,
    /// Canonical platform (`autodetect` for a device whose platform was to be found).
    pub platform: String,
    /// The platform autodetect found, for an `autodetect` device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_detected: Option<String>,
    /// How the device was reached (`ssh` in records written before telnet existed).
    #[serde(default)]
    pub transport: crate::Transport,
    /// The classification, serialized as `"status"` and its fields (`stage`, `signal`, …).
    #[serde(flatten)]
    pub outcome: Outcome,
    /// One human sentence: what happened, where, and what to check.
    pub message: String,
    /// Commands run so far, complete or partial.
    #[serde(default)]
    pub outputs: Vec<CommandOutput>,
    /// Per-stage timings.
    #[serde(default)]
    pub timings: Timings,
    /// The worker (thread or process) that produced the final attempt.
    #[serde(default)]
    pub worker: String,
    /// 1-based number of the final attempt.
    #[serde(default = "one")]
    pub attempt: u32,
    /// Earlier attempts, when the device was retried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_attempts: Vec<AttemptSummary>,
    /// A configuration change's account (`--config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<crate::ChangeReport>,
}

fn one() -> u32 {
    1
}

impl DeviceRecord {
    /// A record for a device that ended without a session result of its own (timed out,
    /// worker crashed, cancelled…), keeping whatever partial output had arrived.
    pub fn from_target(
        target: &crate::DeviceTarget,
        outcome: Outcome,
        message: impl Into<String>,
    ) -> Self {
        DeviceRecord {
            device: target.name.clone(),
            host: target.host.clone(),
            port: target.port,
            platform: target.platform.clone(),
            platform_detected: None,
            transport: target.transport,
            outcome,
            message: message.into(),
            outputs: Vec::new(),
            timings: Timings::default(),
            worker: String::new(),
            attempt: 1,
            previous_attempts: Vec::new(),
            change: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome) -> DeviceRecord {
        DeviceRecord {
            device: "r1".into(),
            host: "127.0.0.1".into(),
            port: 2222,
            platform: "cisco_ios".into(),
            platform_detected: None,
            transport: crate::Transport::Ssh,
            outcome,
            message: "m".into(),
            outputs: vec![CommandOutput {
                command: "show clock".into(),
                output: "*10:00:00.000 UTC Sat Nov 21 2026".into(),
                ..Default::default()
            }],
            timings: Timings::default(),
            worker: "w0".into(),
            attempt: 1,
            previous_attempts: vec![],
            change: None,
        }
    }

    #[test]
    fn status_is_flattened_with_its_stage() {
        let json = serde_json::to_value(record(Outcome::TimedOut { stage: Stage::Auth })).unwrap();
        assert_eq!(json["status"], "timed_out");
        assert_eq!(json["stage"], "auth");
        assert_eq!(json["outputs"][0]["command"], "show clock");
    }

    #[test]
    fn every_outcome_round_trips_through_json() {
        for outcome in [
            Outcome::Ok,
            Outcome::CommandError,
            Outcome::AuthFailed,
            Outcome::AuthUnavailable,
            Outcome::EnableFailed,
            Outcome::Unreachable,
            Outcome::TimedOut {
                stage: Stage::Command,
            },
            Outcome::HostKeyMismatch,
            Outcome::ConnectionLost {
                stage: Stage::Command,
            },
            Outcome::ProtocolError,
            Outcome::WorkerCrashed {
                stage: Stage::Auth,
                signal: Some(9),
                exit_code: None,
            },
            Outcome::Cancelled,
            Outcome::ConfigError,
        ] {
            let r = record(outcome);
            let text = serde_json::to_string(&r).unwrap();
            let back: DeviceRecord = serde_json::from_str(&text).unwrap();
            assert_eq!(back, r, "{text}");
            assert!(Outcome::CLASSES.contains(&outcome.class()));
            // The class is the JSON `status`: the two names must never drift apart.
            assert_eq!(
                serde_json::to_value(outcome).unwrap()["status"],
                outcome.class()
            );
        }
    }

    #[test]
    fn only_network_failures_are_transient() {
        assert!(Outcome::Unreachable.is_transient());
        assert!(Outcome::AuthUnavailable.is_transient());
        assert!(!Outcome::AuthFailed.is_transient());
        assert!(!Outcome::HostKeyMismatch.is_transient());
        assert!(!Outcome::Ok.is_transient());
    }
}
