//! What one device needs to be swept: where it is, how to log in, what to run, how long to try.
//!
//! A [`Job`] is self-contained so that it can be handed to a thread or framed to a worker
//! process as is. Credentials inside it are [`Secret`]s: they serialize (a job frame must carry
//! them to the worker) but never show in `Debug` output, and no record type holds one.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Position of a device in the sweep's inventory order; also the key for `--order input`.
pub type JobId = u64;

/// A credential. `Debug` is redacted; the only way to read the value is [`Secret::expose`],
/// so every place that uses a password is easy to find.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for the one call that sends it to a device.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One device, resolved: every default merged and every secret reference read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTarget {
    /// Unique name in the inventory (the journal's and the report's key).
    pub name: String,
    /// Host name or address to connect to.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Canonical platform name, e.g. `cisco_ios` or `linux` (aliases already resolved).
    pub platform: String,
    /// Login user.
    pub username: String,
    /// Login password (also answers keyboard-interactive prompts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Enable secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// Private key for public-key authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Groups the device belongs to in the inventory (for `--limit` and reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl DeviceTarget {
    /// `host:port`, bracketed for IPv6 literals: `127.0.0.1:22`, `[::1]:22`.
    pub fn address(&self) -> String {
        host_port(&self.host, self.port)
    }
}

/// `127.0.0.1:22`, or `[::1]:22` for an IPv6 literal.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// How long each part of a device's sweep may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// TCP connect.
    #[serde(with = "millis")]
    pub connect: Duration,
    /// Any single read from the device (banner, prompt, one command's output).
    #[serde(with = "millis")]
    pub command: Duration,
    /// The whole device, all stages; enforced by the pool, which can stop a stuck worker.
    #[serde(with = "millis")]
    pub deadline: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            command: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
        }
    }
}

/// What to do with a host key the known_hosts file does not vouch for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Only keys already in known_hosts are accepted.
    Strict,
    /// Trust on first use: an unknown host's key is recorded; a changed key is still refused.
    #[default]
    AcceptNew,
    /// No checking at all (labs only).
    Off,
}

/// One unit of work: a device, its commands, its limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Inventory position.
    pub id: JobId,
    /// 1 for the first try, incremented by each retry.
    pub attempt: u32,
    /// The device.
    pub target: DeviceTarget,
    /// Commands to run, in order.
    pub commands: Vec<String>,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Host key checking.
    pub host_key_policy: HostKeyPolicy,
    /// netsweep's own OpenSSH-format known_hosts file (read, and appended to under
    /// `accept-new`). `None` with `Off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// Parse each output into rows where it is (`--parse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse: Option<ParseSpec>,
    /// A configuration change, rendered for this device (`--config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<crate::ConfigChange>,
}

/// How the worker parses a job's outputs: with the template ntc-templates' index chooses
/// for the platform and command, or one of the user's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseSpec {
    /// The ntc-templates directory (with its `index`); `None` when every command has its
    /// own template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<PathBuf>,
    /// The device's platform as the index names it (`cisco_ios`).
    pub platform: String,
    /// (command, template file) pairs that bypass the index (`--template "show foo=FILE"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own_templates: Vec<(String, PathBuf)>,
}

/// Durations travel as whole milliseconds: readable in a frame dump, exact enough for timeouts.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted_but_serializes_for_the_worker() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"hunter2\"");
    }

    #[test]
    fn target_debug_never_shows_credentials() {
        let t = DeviceTarget {
            name: "r1".into(),
            host: "127.0.0.1".into(),
            port: 22,
            platform: "cisco_ios".into(),
            username: "cisco".into(),
            password: Some(Secret::new("pa55word")),
            secret: Some(Secret::new("en4ble")),
            key_file: None,
            groups: vec![],
        };
        let dbg = format!("{t:?}");
        assert!(
            !dbg.contains("pa55word") && !dbg.contains("en4ble"),
            "{dbg}"
        );
    }
}
