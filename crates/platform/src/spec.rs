//! A platform as netsweep uses it: every field resolved (a `base:` merged in, defaults
//! applied), plain strings, serializable — the form a user-defined platform travels to a
//! worker in.
//!
//! Field meanings are documented once, in `platforms.yaml` (the built-in table) and on each
//! field here. This module holds no behaviour beyond a few questions about the data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One platform, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    /// Canonical name (netmiko's `device_type`), e.g. `cisco_ios`.
    pub name: String,
    /// One line for `netsweep platforms`.
    pub description: String,
    /// The platform a user-defined one was based on (`base:`), if any: the simulator serves
    /// it with its base's model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Other `device_type` names that mean this platform.
    pub aliases: Vec<Alias>,
    /// ntc-templates' platform name, for TextFSM parsing.
    pub ntc_platform: Option<String>,
    /// Shell or exec channels.
    pub channel: Channel,
    /// SSH methods that carry the password, in order of preference.
    pub auth_methods: Vec<String>,
    /// What ends a typed line.
    pub line_ending: String,
    /// Appended to the login name (RouterOS terminal options).
    pub username_suffix: Option<String>,
    /// Prompt regexes per mode.
    pub prompts: Prompts,
    /// A login that lands in a Unix shell first, and how to leave it for the CLI.
    pub shell: Option<ShellEscape>,
    /// How to reach privileged mode.
    pub enable: Option<Enable>,
    /// Commands run once the prompt is known (paging and width off).
    pub setup: Vec<String>,
    /// The pager prompt and its answer.
    pub pager: Option<Pager>,
    /// Failure indicators (regexes, searched line by line).
    pub errors: Vec<String>,
    /// Sent to leave the session.
    pub exit: String,
    /// Remove ANSI escape sequences from output.
    pub strip_ansi: bool,
    /// Configuration mode (data for configuration changes; sweeps do not use it yet).
    pub config: Option<ConfigMode>,
    /// Named commands: `version` → `show version`.
    pub commands: BTreeMap<String, String>,
    /// Autodetect hints.
    pub detect: Option<Detect>,
}

/// Another `device_type` name for a platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The name as written in an inventory.
    pub name: String,
    /// How the name connects.
    pub transport: Transport,
    /// The port it implies, when not the transport's usual one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// How a `device_type` name connects: the protocol's own type, so that a name's transport
/// travels in jobs and records unchanged.
pub use netsweep_protocol::Transport;

/// How commands reach the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// One interactive PTY shell per session; commands are typed and the prompt ends each.
    Shell,
    /// One `exec` channel per command, with exit status and stderr (Unix hosts).
    Exec,
}

impl Channel {
    /// `shell` or `exec`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Shell => "shell",
            Channel::Exec => "exec",
        }
    }
}

/// Prompt regexes, one per mode. Each is matched against the whole last line of output
/// (trailing blanks removed); a named group `base` marks the part that stays the same across
/// modes (the host name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompts {
    /// User / exec mode.
    pub user: Option<String>,
    /// Privileged mode.
    pub privileged: Option<String>,
    /// Configuration mode.
    pub config: Option<String>,
    /// A line just above the prompt that belongs to it (Junos `{master:0}`, `[edit]`).
    pub context: Option<String>,
}

/// A login that lands in a Unix shell before the CLI (Junos' root account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellEscape {
    /// The shell's prompt (regex, whole last line).
    pub prompt: String,
    /// The command that starts the CLI.
    pub command: String,
}

/// Reaching privileged mode from user mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enable {
    /// The command (`enable`).
    pub command: String,
    /// The device asks for the secret (regex, searched in the last line).
    pub password_prompt: String,
    /// The secret was refused (regexes, searched line by line).
    pub denied: Vec<String>,
    /// Commands run once privileged (ASA's `terminal pager 0`).
    pub then: Vec<String>,
}

/// A pager prompt left on when paging could not be turned off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pager {
    /// The pager prompt (regex, searched in the last line).
    pub prompt: String,
    /// What to type to get the next page.
    pub answer: String,
}

/// Configuration mode: data for configuration changes (sweeps only read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigMode {
    /// Enters configuration mode (`configure terminal`, `system-view`).
    pub enter: String,
    /// Leaves it (`end`, `return`, `exit configuration-mode`).
    pub exit: String,
    /// Where changes only take effect when committed (Junos, IOS XR).
    pub commit: Option<Commit>,
    /// Saving the running configuration.
    pub save: Option<Save>,
}

/// Committing (and abandoning) a candidate configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// `commit`.
    pub command: String,
    /// Abandons uncommitted changes (`rollback`, `abort`).
    pub abort: String,
}

/// Saving the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Save {
    /// `write memory`, `save`, `save force`.
    pub command: String,
    /// A question the save asks, and the answer.
    pub confirm: Option<Confirm>,
}

/// A yes/no question and its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirm {
    /// The question (regex, searched in the last line): `\[Y/N\]`.
    pub prompt: String,
    /// The answer: `y`.
    pub answer: String,
}

/// How autodetect recognises the platform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detect {
    /// The SSH server's ident string (regex): `^SSH-2\.0-HUAWEI-`.
    pub ident: Option<String>,
    /// A show-version-style command the platform answers.
    pub command: Option<String>,
    /// What that command's output contains on this platform (regex).
    pub output: Option<String>,
}

/// A mode of a shell platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// A Unix shell before the CLI (Junos root).
    Shell,
    /// User / exec mode.
    User,
    /// Privileged mode.
    Privileged,
    /// Configuration mode.
    Config,
}

impl Mode {
    /// Every mode, in the order `netsweep platforms` lists them.
    pub const ALL: [Mode; 4] = [Mode::User, Mode::Privileged, Mode::Config, Mode::Shell];

    /// `user`, `privileged`, `config`, `shell`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Shell => "shell",
            Mode::User => "user",
            Mode::Privileged => "privileged",
            Mode::Config => "config",
        }
    }
}

impl PlatformSpec {
    /// The prompt regex of `mode`, if the platform has that mode.
    pub fn prompt(&self, mode: Mode) -> Option<&str> {
        match mode {
            Mode::Shell => self.shell.as_ref().map(|s| s.prompt.as_str()),
            Mode::User => self.prompts.user.as_deref(),
            Mode::Privileged => self.prompts.privileged.as_deref(),
            Mode::Config => self.prompts.config.as_deref(),
        }
    }

    /// The modes the platform has, in [`Mode::ALL`] order.
    pub fn modes(&self) -> Vec<Mode> {
        Mode::ALL
            .into_iter()
            .filter(|m| self.prompt(*m).is_some())
            .collect()
    }

    /// Every `device_type` name of the platform, the canonical one first.
    pub fn device_type_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(|a| a.name.as_str()))
    }
}
