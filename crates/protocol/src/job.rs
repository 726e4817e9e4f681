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
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// How to reach the device's CLI: SSH, or telnet (only when the inventory says so).
    #[serde(default, skip_serializing_if = "Transport::is_ssh")]
    pub transport: Transport,
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
    /// How to reach the device over SSH beyond address and credentials: jump hosts, the key's
    /// passphrase, algorithm choices.
    #[serde(default, skip_serializing_if = "SshSettings::is_default")]
    pub ssh: SshSettings,
}

/// SSH settings of one device (or one jump host) beyond address and credentials, resolved
/// from the inventory and ssh_config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SshSettings {
    /// Hosts to pass through, outermost first: the device is reached over a `direct-tcpip`
    /// channel of the last one's SSH session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jump_hosts: Vec<JumpHost>,
    /// Passphrase of the private key (`key_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_passphrase: Option<Secret>,
    /// OpenSSH certificate to present with the key, when it is not `<key_file>-cert.pub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_file: Option<PathBuf>,
    /// Which key exchange, host key, cipher and MAC algorithms to offer.
    #[serde(default, skip_serializing_if = "Algorithms::is_default")]
    pub algorithms: Algorithms,
}

impl SshSettings {
    /// Whether nothing differs from a direct connection with netsweep's own choices.
    pub fn is_default(&self) -> bool {
        *self == SshSettings::default()
    }
}

/// One SSH hop on the way to a device: a bastion whose `direct-tcpip` channels carry the
/// next hop's (or the device's) TCP connection.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JumpHost {
    /// Host name or address, as the previous hop (or this machine) reaches it.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// Login user on the jump host.
    pub username: String,
    /// Login password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Private key for public-key authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Passphrase, certificate and algorithms of this hop (its own `jump_hosts` are unused:
    /// the chain is the device's list).
    #[serde(default, skip_serializing_if = "SshSettings::is_default")]
    pub ssh: SshSettings,
}

impl JumpHost {
    /// `user@host:port`, as messages name the hop (`[::1]` bracketed).
    pub fn label(&self) -> String {
        format!("{}@{}", self.username, host_port(&self.host, self.port))
    }
}

impl fmt::Debug for JumpHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JumpHost")
            .field("hop", &self.label())
            .field("password", &self.password)
            .field("key_file", &self.key_file)
            .field("ssh", &self.ssh)
            .finish()
    }
}

/// The algorithms to offer in the SSH handshake, as changes to netsweep's own modern-first
/// lists. Names libssh2 was not built with are never offered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Algorithms {
    /// Also offer, after every modern one, the SHA-1-era algorithms old devices need
    /// (`diffie-hellman-group14-sha1`, `diffie-hellman-group1-sha1`, `ssh-rsa`, `hmac-sha1`,
    /// `aes128-cbc`…). Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy: bool,
    /// Key exchange (ssh_config `KexAlgorithms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kex: Option<AlgorithmList>,
    /// Host key types (ssh_config `HostKeyAlgorithms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<AlgorithmList>,
    /// Ciphers, both directions (ssh_config `Ciphers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphers: Option<AlgorithmList>,
    /// MACs, both directions (ssh_config `MACs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macs: Option<AlgorithmList>,
}

impl Algorithms {
    /// Whether these are netsweep's own choices, unchanged.
    pub fn is_default(&self) -> bool {
        *self == Algorithms::default()
    }
}

/// A change to one of netsweep's algorithm lists, as ssh_config writes it: `a,b` (exactly
/// these), `+a,b` (append), `-a,b` (remove), `^a,b` (put first).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmList {
    /// Exactly these, in this order.
    Set(Vec<String>),
    /// The default list, then these.
    Append(Vec<String>),
    /// The default list without these (`*` and `?` patterns allowed).
    Remove(Vec<String>),
    /// These, then the rest of the default list.
    Prepend(Vec<String>),
}

impl AlgorithmList {
    /// Parses ssh_config's form: `a,b`, `+a,b`, `-a,b` or `^a,b`.
    pub fn parse(text: &str) -> Result<AlgorithmList, String> {
        let text = text.trim();
        let (make, rest): (fn(Vec<String>) -> AlgorithmList, &str) = match text.chars().next() {
            Some('+') => (AlgorithmList::Append, &text[1..]),
            Some('-') => (AlgorithmList::Remove, &text[1..]),
            Some('^') => (AlgorithmList::Prepend, &text[1..]),
            _ => (AlgorithmList::Set, text),
        };
        let names: Vec<String> = rest
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err(format!("`{text}` names no algorithm"));
        }
        if let Some(bad) = names.iter().find(|n| {
            !n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@*?".contains(c))
        }) {
            return Err(format!("`{bad}` is not an algorithm name"));
        }
        Ok(make(names))
    }

    /// `base` changed by this list. `Remove` patterns may use `*` and `?`.
    pub fn apply(&self, base: &[&str]) -> Vec<String> {
        let owned = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        match self {
            AlgorithmList::Set(names) => names.clone(),
            AlgorithmList::Append(names) => {
                let mut out = owned(base);
                for n in names {
                    if !out.contains(n) {
                        out.push(n.clone());
                    }
                }
                out
            }
            AlgorithmList::Prepend(names) => {
                let mut out = names.clone();
                out.extend(
                    base.iter()
                        .filter(|b| !names.iter().any(|n| n == *b))
                        .map(|b| b.to_string()),
                );
                out
            }
            AlgorithmList::Remove(patterns) => base
                .iter()
                .filter(|b| !patterns.iter().any(|p| wildcard_match(p, b)))
                .map(|b| b.to_string())
                .collect(),
        }
    }
}

/// `*` (any run) and `?` (any one character) matching, as ssh_config patterns use them.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
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

/// How netsweep reaches a device's CLI. SSH unless an inventory asks for telnet, by a
/// `*_telnet` device type or `transport: telnet`: telnet sends the password in clear text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SSH (port 22).
    #[default]
    Ssh,
    /// Telnet (port 23): login by the device's prompts, everything in clear text.
    Telnet,
}

impl Transport {
    /// The transport's usual port.
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Ssh => 22,
            Transport::Telnet => 23,
        }
    }

    /// `ssh` or `telnet`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ssh => "ssh",
            Transport::Telnet => "telnet",
        }
    }

    /// Whether this is SSH (the default, left out of serialized jobs).
    pub fn is_ssh(&self) -> bool {
        *self == Transport::Ssh
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> Result<Transport, String> {
        match s {
            "ssh" => Ok(Transport::Ssh),
            "telnet" => Ok(Transport::Telnet),
            other => Err(format!(
                "unknown transport {other:?} (expected ssh or telnet)"
            )),
        }
    }
}

/// A hop as ssh's `-J` and ProxyJump write it: `[user@]host[:port]`, `[::1]:port` bracketed.
/// Returns the user (when written), the host and the port (when written).
pub fn parse_hop(text: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let text = text.trim();
    let (user, rest) = match text.rsplit_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_string()), rest),
        Some(_) => return Err(format!("`{text}` has an empty user before `@`")),
        None => (None, text),
    };
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("`{text}` opens `[` without closing it"))?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("`{text}`: expected `:port` after `]`")),
        }
    } else if rest.matches(':').count() == 1 {
        let (host, port) = rest.split_once(':').unwrap_or((rest, ""));
        (host, Some(port))
    } else {
        // No colon, or a bare IPv6 literal (which cannot carry a port without brackets).
        (rest, None)
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{text}` names no usable host"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(format!(
                    "`{p}` in `{text}` is not a port number (1 to 65535)"
                ));
            }
        },
    };
    Ok((user, host.to_string(), port))
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
    /// The definition of a user-defined platform (netsweep-platform's `PlatformSpec`), for a
    /// platform the worker's built-in table does not have. `None` for a built-in platform:
    /// the job names it, and stays as small as that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_definition: Option<serde_json::Value>,
    /// The user's own named commands (`--commands FILE`), for commands written `@name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named_commands: Vec<NamedCommand>,
    /// Parse each output into rows where it is (`--parse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse: Option<ParseSpec>,
    /// A configuration change, rendered for this device (`--config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<crate::ConfigChange>,
}

/// A user-defined named command: `-c @bgp` is `default` on any platform not in `platforms`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCommand {
    /// The name, without the `@`.
    pub name: String,
    /// The command for platforms not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The command per canonical platform name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub platforms: std::collections::BTreeMap<String, String>,
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
    #[test]
    fn hops_are_read_as_ssh_writes_them() {
        let hop = |t| super::parse_hop(t);
        assert_eq!(hop("bastion"), Ok((None, "bastion".into(), None)));
        assert_eq!(
            hop("ops@10.0.0.1:2222"),
            Ok((Some("ops".into()), "10.0.0.1".into(), Some(2222)))
        );
        assert_eq!(
            hop("a@[::1]:22"),
            Ok((Some("a".into()), "::1".into(), Some(22)))
        );
        assert_eq!(hop("::1"), Ok((None, "::1".into(), None)));
        assert!(hop("ops@host:0").is_err());
        assert!(hop("@host").is_err());
        assert!(hop("ops@").is_err());
    }

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
            transport: Transport::Telnet,
            username: "cisco".into(),
            password: Some(Secret::new("pa55word")),
            secret: Some(Secret::new("en4ble")),
            key_file: None,
            groups: vec![],
            ssh: SshSettings {
                key_passphrase: Some(Secret::new("k3yphrase")),
                jump_hosts: vec![JumpHost {
                    host: "bastion".into(),
                    port: 22,
                    username: "ops".into(),
                    password: Some(Secret::new("jumpw0rd")),
                    key_file: None,
                    ssh: SshSettings::default(),
                }],
                ..SshSettings::default()
            },
        };
        let dbg = format!("{t:?}");
        assert!(
            !dbg.contains("pa55word") && !dbg.contains("en4ble"),
            "{dbg}"
        );
        assert!(
            !dbg.contains("k3yphrase")
                && !dbg.contains("jumpw0rd")
                && dbg.contains("ops@bastion:22"),
            "{dbg}"
        );
    }

    #[test]
    fn algorithm_lists_follow_ssh_config() {
        let base = ["a", "b-sha1", "c"];
        let apply = |t: &str| AlgorithmList::parse(t).unwrap().apply(&base);
        assert_eq!(apply("x,a"), ["x", "a"]);
        assert_eq!(apply("+x,a"), ["a", "b-sha1", "c", "x"]);
        assert_eq!(apply("-*-sha1"), ["a", "c"]);
        assert_eq!(apply("^c,x"), ["c", "x", "a", "b-sha1"]);
        assert!(AlgorithmList::parse("+").is_err());
        assert!(AlgorithmList::parse("a b").is_err());
        assert!(wildcard_match(
            "diffie-hellman-*-sha1",
            "diffie-hellman-group14-sha1"
        ));
        assert!(!wildcard_match("a?c", "abbc"));
    }

    #[test]
    fn a_target_without_ssh_settings_serializes_as_before() {
        let t = DeviceTarget {
            name: "r1".into(),
            host: "127.0.0.1".into(),
            port: 22,
            platform: "cisco_ios".into(),
            transport: Transport::Ssh,
            username: "cisco".into(),
            password: None,
            secret: None,
            key_file: None,
            groups: vec![],
            ssh: SshSettings::default(),
        };
        let json = serde_json::to_string(&t).unwrap();
        assert!(!json.contains("ssh"), "{json}");
        let back: DeviceTarget = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}
