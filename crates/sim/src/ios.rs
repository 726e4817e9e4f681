//! The IOS command line: modes, abbreviations, the caret on bad input, and realistic `show`
//! outputs.
//!
//! Pure logic: a line goes in, text and the next step come out. Echo, paging, latency and
//! faults are the session's job ([`crate::session`]), so everything here can be checked without
//! a socket. Every line ending is `\r\n`, as a real PTY sends.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::config_state::{Candidate, ConfigStyle, DeviceConfig};
use crate::facts::{Facts, clock_string};

/// Where the IOS command line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `hostname>`
    User,
    /// `hostname#`
    Privileged,
    /// `hostname(config)#`
    Config,
    /// `hostname(config-if)#`
    ConfigIf,
}

/// What the session should do after a line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Print this, then the prompt.
    Print(String),
    /// Print a `show` output (subject to latency, paging and output faults), then the prompt.
    Show(String),
    /// Ask `Password: ` and hand the answer to [`IosCli::enable_answer`].
    AskEnableSecret,
    /// Log out.
    Exit,
}

/// One IOS session's command-line state.
pub(crate) struct IosCli {
    /// Shown in prompts; `hostname X` in config mode changes it for the session.
    pub hostname: String,
    pub mode: Mode,
    /// Lines per page; 0 turns paging off.
    pub length: usize,
    pub width: usize,
    /// The device's configuration, shared with its other sessions.
    config: Arc<DeviceConfig>,
    style: ConfigStyle,
    candidate: Candidate,
}

/// A pattern word: a keyword (matched by unambiguous prefix) or an argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Word {
    Key(&'static str),
    /// One argument word.
    Arg,
    /// A number from 0 to 512 (terminal length/width).
    Num,
    /// The rest of the line, possibly empty.
    Rest,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmd {
    Enable,
    Disable,
    Exit,
    End,
    ShowClock,
    ShowVersion,
    ShowIpIntBrief,
    ShowInventory,
    ShowRunning,
    ShowPrivilege,
    TermLength,
    TermWidth,
    ConfigureTerminal,
    WriteMemory,
    Hostname,
    Interface,
    ConfigLine,
    Do,
}

use Word::{Arg, Key, Num, Rest};

const EXEC_COMMANDS: &[(&[Word], Cmd)] = &[
    (&[Key("enable")], Cmd::Enable),
    (&[Key("exit")], Cmd::Exit),
    (&[Key("quit")], Cmd::Exit),
    (&[Key("logout")], Cmd::Exit),
    (&[Key("show"), Key("clock")], Cmd::ShowClock),
    (&[Key("show"), Key("version")], Cmd::ShowVersion),
    (
        &[Key("show"), Key("ip"), Key("interface"), Key("brief")],
        Cmd::ShowIpIntBrief,
    ),
    (&[Key("show"), Key("inventory")], Cmd::ShowInventory),
    (&[Key("show"), Key("privilege")], Cmd::ShowPrivilege),
    (&[Key("terminal"), Key("length"), Num], Cmd::TermLength),
    (&[Key("terminal"), Key("width"), Num], Cmd::TermWidth),
];

const PRIVILEGED_COMMANDS: &[(&[Word], Cmd)] = &[
    (&[Key("disable")], Cmd::Disable),
    (&[Key("show"), Key("running-config")], Cmd::ShowRunning),
    (&[Key("show"), Key("startup-config")], Cmd::ShowRunning),
    (&[Key("configure"), Key("terminal")], Cmd::ConfigureTerminal),
    (&[Key("write"), Key("memory")], Cmd::WriteMemory),
];

const CONFIG_COMMANDS: &[(&[Word], Cmd)] = &[
    (&[Key("end")], Cmd::End),
    (&[Key("exit")], Cmd::Exit),
    (&[Key("hostname"), Arg], Cmd::Hostname),
    (&[Key("interface"), Arg, Rest], Cmd::Interface),
    (&[Key("no"), Arg, Rest], Cmd::ConfigLine),
    (&[Key("do"), Arg, Rest], Cmd::Do),
    (&[Key("ip"), Arg, Rest], Cmd::ConfigLine),
    (&[Key("username"), Arg, Rest], Cmd::ConfigLine),
    (&[Key("logging"), Arg, Rest], Cmd::ConfigLine),
    (&[Key("ntp"), Arg, Rest], Cmd::ConfigLine),
    (&[Key("snmp-server"), Arg, Rest], Cmd::ConfigLine),
    (&[Key("service"), Arg, Rest], Cmd::ConfigLine),
];

const CONFIG_IF_COMMANDS: &[(&[Word], Cmd)] = &[
    (&[Key("description"), Rest], Cmd::ConfigLine),
    (&[Key("ip"), Arg, Rest], Cmd::ConfigLine),
    (&[Key("shutdown")], Cmd::ConfigLine),
    (&[Key("duplex"), Arg], Cmd::ConfigLine),
    (&[Key("speed"), Arg], Cmd::ConfigLine),
    (&[Key("switchport"), Arg, Rest], Cmd::ConfigLine),
];

/// Why a line did not resolve to a command.
#[derive(Debug, PartialEq, Eq)]
enum ParseError {
    /// `% Invalid input detected at '^' marker.` under byte `column` of the line.
    Invalid { column: usize },
    /// `% Incomplete command.`
    Incomplete,
    /// `% Ambiguous command:  "…"`
    Ambiguous,
}

/// Splits a line into words with their byte offsets.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

/// Resolves a line against command tables, the way IOS does: each word may be any prefix that
/// names one keyword; the caret points at the first word that fits nothing.
fn resolve<'l>(
    line: &'l str,
    tables: &[&[(&'static [Word], Cmd)]],
) -> Result<(Cmd, Vec<&'l str>, &'l str), ParseError> {
    let typed = words(line);
    let mut candidates: Vec<&(&[Word], Cmd)> = tables.iter().flat_map(|t| t.iter()).collect();
    let mut args = Vec::new();
    for (pos, &(offset, word)) in typed.iter().enumerate() {
        // A `Rest` already reached swallows this and every later word.
        if let Some(rest) = candidates
            .iter()
            .find(|(pattern, _)| pattern.get(pos) == Some(&Rest))
        {
            return Ok((rest.1, args, line[offset..].trim_end()));
        }
        let lower = word.to_ascii_lowercase();
        let fits = |w: &Word| match w {
            Key(k) => k.starts_with(&lower),
            Arg | Rest => true,
            Num => word.parse::<u16>().is_ok_and(|n| n <= 512),
        };
        let matching: Vec<_> = candidates
            .iter()
            .copied()
            .filter(|(pattern, _)| pattern.get(pos).is_some_and(fits))
            .collect();
        if matching.is_empty() {
            return Err(ParseError::Invalid { column: offset });
        }
        let exact: Vec<_> = matching
            .iter()
            .copied()
            .filter(|(pattern, _)| matches!(pattern[pos], Key(k) if k == lower))
            .collect();
        let keys: std::collections::BTreeSet<&str> = matching
            .iter()
            .filter_map(|(pattern, _)| match pattern[pos] {
                Key(k) => Some(k),
                _ => None,
            })
            .collect();
        candidates = if !exact.is_empty() {
            exact
        } else if keys.len() > 1 {
            return Err(ParseError::Ambiguous);
        } else {
            matching
        };
        if candidates
            .iter()
            .any(|(pattern, _)| matches!(pattern[pos], Arg | Num))
        {
            args.push(word);
        }
    }
    let n = typed.len();
    match candidates
        .iter()
        .find(|(pattern, _)| pattern.len() == n || (pattern.len() == n + 1 && pattern[n] == Rest))
    {
        Some((_, cmd)) => Ok((*cmd, args, "")),
        None => Err(ParseError::Incomplete),
    }
}

impl IosCli {
    pub(crate) fn new(hostname: &str, privilege15: bool, config: Arc<DeviceConfig>) -> IosCli {
        IosCli {
            config,
            style: ConfigStyle::of("cisco_ios"),
            candidate: Candidate::default(),
            hostname: hostname.to_owned(),
            mode: if privilege15 {
                Mode::Privileged
            } else {
                Mode::User
            },
            length: 24,
            width: 80,
        }
    }

    pub(crate) fn prompt(&self) -> String {
        match self.mode {
            Mode::User => format!("{}>", self.hostname),
            Mode::Privileged => format!("{}#", self.hostname),
            Mode::Config => format!("{}(config)#", self.hostname),
            Mode::ConfigIf => format!("{}(config-if)#", self.hostname),
        }
    }

    fn tables(&self) -> Vec<&'static [(&'static [Word], Cmd)]> {
        match self.mode {
            Mode::User => vec![EXEC_COMMANDS],
            Mode::Privileged => vec![EXEC_COMMANDS, PRIVILEGED_COMMANDS],
            Mode::Config => vec![CONFIG_COMMANDS],
            Mode::ConfigIf => vec![CONFIG_IF_COMMANDS, CONFIG_COMMANDS],
        }
    }

    /// Runs one line typed at the prompt (without its line ending).
    pub(crate) fn execute(&mut self, line: &str, facts: &Facts) -> Step {
        if line.trim().is_empty() {
            return Step::Print(String::new());
        }
        let prompt_len = self.prompt().len();
        let (cmd, args, rest) = match resolve(line, &self.tables()) {
            Ok(resolved) => resolved,
            Err(ParseError::Invalid { column }) => {
                return Step::Print(format!(
                    "{:width$}^\r\n% Invalid input detected at '^' marker.\r\n\r\n",
                    "",
                    width = prompt_len + column
                ));
            }
            Err(ParseError::Incomplete) => {
                return Step::Print("% Incomplete command.\r\n\r\n".into());
            }
            Err(ParseError::Ambiguous) => {
                return Step::Print(format!("% Ambiguous command:  \"{}\"\r\n", line.trim()));
            }
        };
        match cmd {
            Cmd::Enable => {
                if self.mode == Mode::User {
                    Step::AskEnableSecret
                } else {
                    Step::Print(String::new())
                }
            }
            Cmd::Disable => {
                self.mode = Mode::User;
                Step::Print(String::new())
            }
            Cmd::Exit => match self.mode {
                Mode::User | Mode::Privileged => Step::Exit,
                Mode::Config => {
                    self.mode = Mode::Privileged;
                    Step::Print(String::new())
                }
                Mode::ConfigIf => {
                    self.mode = Mode::Config;
                    Step::Print(String::new())
                }
            },
            Cmd::End => {
                self.mode = Mode::Privileged;
                Step::Print(String::new())
            }
            Cmd::ConfigureTerminal => {
                self.mode = Mode::Config;
                Step::Print(
                    "Enter configuration commands, one per line.  End with CNTL/Z.\r\n".into(),
                )
            }
            Cmd::TermLength => {
                self.length = args.last().and_then(|a| a.parse().ok()).unwrap_or(24);
                Step::Print(String::new())
            }
            Cmd::TermWidth => {
                self.width = args.last().and_then(|a| a.parse().ok()).unwrap_or(80);
                Step::Print(String::new())
            }
            Cmd::WriteMemory => {
                self.config.save();
                Step::Print("Building configuration...\r\n[OK]\r\n".into())
            }
            Cmd::Hostname => {
                if let Some(name) = args.last() {
                    self.hostname = (*name).to_owned();
                }
                Step::Print(String::new())
            }
            Cmd::Interface => {
                self.keep(line);
                self.mode = Mode::ConfigIf;
                Step::Print(String::new())
            }
            Cmd::ConfigLine => {
                self.keep(line);
                Step::Print(String::new())
            }
            Cmd::Do => {
                let saved = self.mode;
                self.mode = Mode::Privileged;
                let command = format!("{} {}", args.first().copied().unwrap_or(""), rest);
                let step = self.execute(command.trim(), facts);
                self.mode = saved;
                match step {
                    Step::Exit | Step::AskEnableSecret => Step::Print(String::new()),
                    other => other,
                }
            }
            Cmd::ShowClock => Step::Show(format!("*{}\r\n", clock_string(facts.now()))),
            Cmd::ShowVersion => Step::Show(show_version(&self.hostname, facts)),
            Cmd::ShowIpIntBrief => Step::Show(show_ip_interface_brief(facts)),
            Cmd::ShowInventory => Step::Show(show_inventory(facts)),
            Cmd::ShowPrivilege => Step::Show(format!(
                "Current privilege level is {}\r\n",
                if self.mode == Mode::User { 1 } else { 15 }
            )),
            Cmd::ShowRunning => Step::Show(running_config(
                &self.hostname,
                facts,
                &self.config.added_lines(),
            )),
        }
    }

    /// Keeps an accepted configuration line in the device's state, indented under its
    /// interface as `show running-config` shows it.
    fn keep(&mut self, line: &str) {
        let line = line.trim();
        let shown = if self.mode == Mode::ConfigIf && !line.starts_with("interface") {
            format!(" {line}")
        } else {
            line.to_owned()
        };
        self.config
            .take_line(&self.style, &mut self.candidate, &shown);
    }

    /// The answer to `Password:` after `enable`.
    pub(crate) fn enable_answer(&mut self, answer: &str, secret: &str, refuse: bool) -> String {
        if !refuse && answer == secret {
            self.mode = Mode::Privileged;
            String::new()
        } else {
            "% Access denied\r\n\r\n".into()
        }
    }
}

/// `show version`, long enough to page at the default 24 lines.
pub(crate) fn show_version(hostname: &str, facts: &Facts) -> String {
    let lines = [
        "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M8, RELEASE SOFTWARE (fc2)".to_owned(),
        "Technical Support: http://www.cisco.com/techsupport".to_owned(),
        "Copyright (c) 1986-2021 by Cisco Systems, Inc.".to_owned(),
        "Compiled Wed 10-Mar-21 06:17 by prod_rel_team".to_owned(),
        String::new(),
        "ROM: System Bootstrap, Version 15.0(1r)M16, RELEASE SOFTWARE (fc1)".to_owned(),
        String::new(),
        format!("{hostname} uptime is {}", facts.uptime_words()),
        "System returned to ROM by power-on".to_owned(),
        format!("System restarted at {}", clock_string(facts.boot_time())),
        "System image file is \"flash0:c2900-universalk9-mz.SPA.157-3.M8.bin\"".to_owned(),
        "Last reload type: Normal Reload".to_owned(),
        String::new(),
        "cisco CISCO2911/K9 (revision 1.0) with 483328K/40960K bytes of memory.".to_owned(),
        format!("Processor board ID {}", facts.serial),
        "3 Gigabit Ethernet interfaces".to_owned(),
        "1 terminal line".to_owned(),
        "DRAM configuration is 64 bits wide with parity enabled.".to_owned(),
        "255K bytes of non-volatile configuration memory.".to_owned(),
        "250880K bytes of ATA System CompactFlash 0 (Read/Write)".to_owned(),
        String::new(),
        "License Info:".to_owned(),
        String::new(),
        "License UDI:".to_owned(),
        String::new(),
        "-------------------------------------------------".to_owned(),
        "Device#   PID                   SN".to_owned(),
        "-------------------------------------------------".to_owned(),
        format!("*1        CISCO2911/K9          {}", facts.serial),
        String::new(),
        "Technology Package License Information for Module:'c2900'".to_owned(),
        String::new(),
        "Configuration register is 0x2102".to_owned(),
    ];
    crlf_lines(&lines)
}

fn show_ip_interface_brief(facts: &Facts) -> String {
    let (a, b) = facts.octets();
    let rows = [
        (
            "GigabitEthernet0/0",
            format!("10.{a}.{b}.1"),
            "NVRAM",
            "up",
            "up",
        ),
        (
            "GigabitEthernet0/1",
            format!("172.16.{b}.1"),
            "NVRAM",
            "up",
            "up",
        ),
        (
            "GigabitEthernet0/2",
            "unassigned".to_owned(),
            "NVRAM",
            "administratively down",
            "down",
        ),
        ("Loopback0", format!("10.255.{a}.{b}"), "NVRAM", "up", "up"),
    ];
    let mut out = format!(
        "{:<27}{:<16}{:<4}{:<7}{:<22}{}\r\n",
        "Interface", "IP-Address", "OK?", "Method", "Status", "Protocol"
    );
    for (name, ip, method, status, protocol) in rows {
        let _ = write!(
            out,
            "{name:<27}{ip:<16}{:<4}{method:<7}{status:<22}{protocol}\r\n",
            "YES"
        );
    }
    out
}

fn show_inventory(facts: &Facts) -> String {
    let lines = [
        "NAME: \"CISCO2911/K9 chassis\", DESCR: \"CISCO2911/K9 chassis\"".to_owned(),
        format!("PID: CISCO2911/K9      , VID: V07  , SN: {}", facts.serial),
        String::new(),
        "NAME: \"PVDM3-32 on Motherboard\", DESCR: \"PVDMIII DSP SIMM with two DSPs\"".to_owned(),
        format!(
            "PID: PVDM3-32          , VID: V01  , SN: {}",
            facts.part_serial(1)
        ),
        String::new(),
        "NAME: \"C2911 AC Power Supply\", DESCR: \"C2911 AC Power Supply\"".to_owned(),
        format!(
            "PID: PWR-2911-AC       , VID: V05  , SN: {}",
            facts.part_serial(2)
        ),
        String::new(),
    ];
    crlf_lines(&lines)
}

/// `show running-config`, padded with access ports to about the device's configured size.
/// Lines added by configuration changes come before the line configuration, in the order
/// they were applied.
pub(crate) fn running_config(hostname: &str, facts: &Facts, added: &[String]) -> String {
    let (a, b) = facts.octets();
    let mut body = String::with_capacity(facts.running_config_bytes + 1024);
    let head = [
        "!".to_owned(),
        format!(
            "! Last configuration change at {}",
            clock_string(facts.boot_time())
        ),
        "!".to_owned(),
        "version 15.7".to_owned(),
        "service timestamps debug datetime msec".to_owned(),
        "service timestamps log datetime msec".to_owned(),
        "no service password-encryption".to_owned(),
        "!".to_owned(),
        format!("hostname {hostname}"),
        "!".to_owned(),
        "boot-start-marker".to_owned(),
        "boot-end-marker".to_owned(),
        "!".to_owned(),
        "enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0".to_owned(),
        "!".to_owned(),
        "no aaa new-model".to_owned(),
        "ip cef".to_owned(),
        "no ipv6 cef".to_owned(),
        "!".to_owned(),
        "ip domain name sim.netsweep.example".to_owned(),
        "!".to_owned(),
        "interface Loopback0".to_owned(),
        format!(" ip address 10.255.{a}.{b} 255.255.255.255"),
        "!".to_owned(),
        "interface GigabitEthernet0/0".to_owned(),
        " description uplink".to_owned(),
        format!(" ip address 10.{a}.{b}.1 255.255.255.0"),
        " duplex auto".to_owned(),
        " speed auto".to_owned(),
        "!".to_owned(),
    ];
    for line in head {
        body.push_str(&line);
        body.push_str("\r\n");
    }
    let tail =
        "!\r\nline con 0\r\nline vty 0 4\r\n login local\r\n transport input ssh\r\n!\r\nend\r\n";
    let mut port = 1;
    while body.len() + tail.len() < facts.running_config_bytes {
        let _ = write!(
            body,
            "interface GigabitEthernet1/0/{port}\r\n description access port {port}\r\n switchport access vlan {}\r\n switchport mode access\r\n spanning-tree portfast\r\n!\r\n",
            port % 4094 + 1
        );
        port += 1;
    }
    for line in added {
        body.push_str(line);
        body.push_str("\r\n");
    }
    body.push_str(tail);
    format!(
        "Building configuration...\r\n\r\nCurrent configuration : {} bytes\r\n{body}",
        body.len()
    )
}

fn crlf_lines(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts::new(7, "r1", 0, 4096)
    }

    #[test]
    fn abbreviations_resolve_like_ios() {
        let mut cli = IosCli::new("r1", false, Arc::default());
        let f = facts();
        assert_eq!(cli.execute("en", &f), Step::AskEnableSecret);
        assert!(matches!(cli.execute("sh ver", &f), Step::Show(s) if s.contains("uptime is")));
        assert!(matches!(cli.execute("term len 0", &f), Step::Print(s) if s.is_empty()));
        assert_eq!(cli.length, 0);
        cli.mode = Mode::Privileged;
        assert!(matches!(cli.execute("sh run", &f), Step::Show(s) if s.contains("hostname r1")));
        cli.execute("conf t", &f);
        assert_eq!(cli.prompt(), "r1(config)#");
        cli.execute("interface Gi0/1", &f);
        assert_eq!(cli.prompt(), "r1(config-if)#");
        cli.execute("end", &f);
        assert_eq!(cli.prompt(), "r1#");
    }

    #[test]
    fn invalid_input_puts_the_caret_under_the_bad_word() {
        let mut cli = IosCli::new("r1", false, Arc::default());
        let f = facts();
        // "r1>" is 3 columns, "show " 5 more: the caret sits under "running-config".
        match cli.execute("show running-config", &f) {
            Step::Print(s) => assert_eq!(
                s,
                "        ^\r\n% Invalid input detected at '^' marker.\r\n\r\n"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            cli.execute("show", &f),
            Step::Print("% Incomplete command.\r\n\r\n".into())
        );
        assert!(matches!(cli.execute("e", &f), Step::Print(s) if s.contains("Ambiguous")));
    }

    #[test]
    fn running_config_reaches_its_size() {
        let f = Facts::new(7, "r1", 0, 2 * 1024 * 1024);
        let text = running_config("r1", &f, &[]);
        assert!(text.len() >= 2 * 1024 * 1024, "{}", text.len());
        assert!(text.ends_with("end\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'));
    }
}
