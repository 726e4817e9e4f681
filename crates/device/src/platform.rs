//! Platform drivers as data: how each kind of device is driven (interactive CLI or one exec
//! channel per command), what its prompt looks like, how paging is turned off, how privileged
//! mode is entered and how it reports a failed command.
//!
//! Adding a platform is one [`Driver`] entry in [`DRIVERS`] plus its aliases in
//! [`DEVICE_TYPES`]; this module must not hold per-platform code paths.

/// How commands are given to the device, whatever transport carries the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interaction {
    /// One interactive CLI per session (an SSH PTY shell); commands are typed and the prompt
    /// ends each one.
    Shell,
    /// One SSH `exec` channel per command, with exit status and stderr (Unix hosts).
    Exec,
}

/// What the device's prompt looks like. The prompt itself is learned from each session; this
/// only says which learned lines are plausible prompts and which mode they mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptStyle {
    /// Characters a prompt may end with (`>` user mode, `#` privileged on IOS).
    pub terminators: &'static str,
    /// The terminator that means privileged mode, if the platform has one.
    pub privileged: Option<char>,
    /// Longest plausible prompt, in bytes (a guard against mistaking output for a prompt).
    pub max_len: usize,
}

/// Entering privileged mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnableSpec {
    /// The command that asks for privileged mode.
    pub command: &'static str,
    /// Line endings (case-insensitive) that mean the device wants the enable secret.
    pub password_prompts: &'static [&'static str],
    /// Text that means the secret was refused.
    pub denied_markers: &'static [&'static str],
}

/// Everything netsweep needs to know to drive one platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Driver {
    /// Canonical platform name (`DeviceTarget::platform`).
    pub name: &'static str,
    /// An interactive CLI or exec channels.
    pub interaction: Interaction,
    /// Prompt shape (shell platforms).
    pub prompt: PromptStyle,
    /// Commands that turn paging (and line wrapping) off, run once after the prompt is learned.
    pub session_setup: &'static [&'static str],
    /// Privileged mode, for platforms that have one.
    pub enable: Option<EnableSpec>,
    /// A pager prompt to answer with a space when paging could not be turned off.
    pub pager_marker: Option<&'static str>,
    /// Line beginnings that mean the device rejected a command.
    pub error_markers: &'static [&'static str],
    /// Sent (without waiting for an answer) to leave the shell politely.
    pub exit_command: &'static str,
    /// SSH methods that carry the password, in the order to use them; the first one the
    /// device offers is used (trying a second after a rejection would only double the
    /// failed logins an account lockout counts).
    pub password_methods: &'static [&'static str],
}

const CISCO_IOS: Driver = Driver {
    name: "cisco_ios",
    interaction: Interaction::Shell,
    prompt: PromptStyle {
        terminators: ">#",
        privileged: Some('#'),
        max_len: 96,
    },
    session_setup: &["terminal length 0", "terminal width 511"],
    enable: Some(EnableSpec {
        command: "enable",
        password_prompts: &["password:"],
        denied_markers: &["% Access denied", "% Bad secrets", "% Bad passwords"],
    }),
    pager_marker: Some("--More--"),
    error_markers: &[
        "% Invalid input",
        "% Incomplete command",
        "% Ambiguous command",
        "% Unknown command",
        "% Unrecognized command",
    ],
    exit_command: "exit",
    password_methods: &["password", "keyboard-interactive"],
};

const LINUX: Driver = Driver {
    name: "linux",
    interaction: Interaction::Exec,
    prompt: PromptStyle {
        terminators: "$#",
        privileged: None,
        max_len: 128,
    },
    session_setup: &[],
    enable: None,
    pager_marker: None,
    // Over a shell (telnet) there is no exit status: the shell's own complaint, which starts
    // with the name it was started by, marks a command it could not run. Exec channels use
    // the exit status instead.
    error_markers: &[
        "bash: ",
        "-bash: ",
        "/bin/bash: ",
        "sh: ",
        "-sh: ",
        "/bin/sh: ",
        "ash: ",
        "-ash: ",
    ],
    exit_command: "exit",
    password_methods: &["password", "keyboard-interactive"],
};

/// Every driver, by canonical name.
pub const DRIVERS: &[Driver] = &[CISCO_IOS, LINUX];

/// `device_type` names accepted in devices.yaml, with the canonical platform each means.
pub const DEVICE_TYPES: &[(&str, &str)] = &[
    ("cisco_ios", "cisco_ios"),
    ("cisco_xe", "cisco_ios"),
    ("cisco_ios_telnet", "cisco_ios"),
    ("linux", "linux"),
    ("linux_telnet", "linux"),
];

/// `(name as written in devices.yaml, canonical platform)` for every supported device type.
pub fn device_types() -> &'static [(&'static str, &'static str)] {
    DEVICE_TYPES
}

/// The canonical platform for a `device_type` (alias or canonical name).
pub fn canonical(device_type: &str) -> Option<&'static str> {
    DEVICE_TYPES
        .iter()
        .find(|(name, _)| *name == device_type)
        .map(|(_, canonical)| *canonical)
}

/// The driver for a platform, by canonical name or alias.
pub fn driver(platform: &str) -> Option<&'static Driver> {
    let canonical = canonical(platform)?;
    DRIVERS.iter().find(|d| d.name == canonical)
}

impl PromptStyle {
    /// Whether `line` (one line, `\r` and trailing blanks already removed) could be a prompt.
    pub fn looks_like_prompt(&self, line: &str) -> bool {
        let Some(last) = line.chars().last() else {
            return false;
        };
        line.len() >= 2
            && line.len() <= self.max_len
            && self.terminators.contains(last)
            && !line.chars().any(|c| c.is_whitespace() || c.is_control())
    }

    /// Whether `line` is the session's prompt in any mode: the learned base (the prompt
    /// without its terminator) followed by an optional mode suffix such as `(config)`.
    pub fn matches(&self, base: &str, line: &str) -> bool {
        line.starts_with(base) && self.looks_like_prompt(line)
    }

    /// Whether a prompt shows privileged mode.
    pub fn is_privileged(&self, line: &str) -> bool {
        self.privileged.is_some_and(|p| line.ends_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_device_type_has_a_driver_and_every_driver_a_device_type() {
        for (name, canonical) in device_types() {
            assert_eq!(driver(name).map(|d| d.name), Some(*canonical), "{name}");
        }
        for d in DRIVERS {
            assert_eq!(super::canonical(d.name), Some(d.name));
        }
        assert!(driver("juniper_junos").is_none());
    }

    #[test]
    fn ios_prompts_are_recognised_and_output_is_not() {
        let p = CISCO_IOS.prompt;
        assert!(p.looks_like_prompt("r1>"));
        assert!(p.looks_like_prompt("core-sw.lab#"));
        assert!(!p.looks_like_prompt("#"));
        assert!(!p.looks_like_prompt("Building configuration... #"));
        assert!(!p.looks_like_prompt("r1"));
        assert!(p.matches("r1", "r1(config-if)#"));
        assert!(!p.matches("r1", "r2#"));
        assert!(p.is_privileged("r1#") && !p.is_privileged("r1>"));
    }
}
