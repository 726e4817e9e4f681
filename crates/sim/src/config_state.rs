//! A simulated device's configuration: the lines changes added to its running configuration,
//! a session's uncommitted candidate, commits and saves — state that outlives a connection and
//! lives as long as the fleet.
//!
//! How a platform commits, aborts and saves is read from the platform table
//! (`netsweep-platform`), never spelled here, so a platform gains configuration state by its
//! table entry. This module holds state and the platform-neutral rules for it; it does no I/O
//! and knows no prompt or command syntax beyond the table's commands.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a platform finishes a change, from its table entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConfigStyle {
    /// `commit` where changes wait in a candidate (Junos, IOS XR); `None` where each line
    /// takes effect at once.
    pub commit: Option<String>,
    /// Abandons the candidate (`rollback`, `abort`).
    pub abort: Option<String>,
    /// Saves the running configuration (`write memory`, `save`).
    pub save: Option<String>,
}

impl ConfigStyle {
    /// The style of a canonical platform name; an unknown name (or one without a
    /// configuration mode) applies lines at once and cannot save.
    pub(crate) fn of(platform: &str) -> ConfigStyle {
        let Some(config) = netsweep_platform::builtin()
            .get(platform)
            .and_then(|p| p.spec().config.clone())
        else {
            return ConfigStyle::default();
        };
        ConfigStyle {
            commit: config.commit.as_ref().map(|c| c.command.clone()),
            abort: config.commit.as_ref().map(|c| c.abort.clone()),
            save: config.save.map(|s| s.command),
        }
    }

    /// Whether a line is this platform's commit (`commit`, `commit confirmed 5`,
    /// `commit check` is not).
    pub(crate) fn is_commit(&self, line: &str) -> bool {
        self.commit.as_deref().is_some_and(|c| {
            let line = line.trim();
            line == c
                || line
                    .strip_prefix(c)
                    .is_some_and(|r| r.trim_start().starts_with("confirmed"))
        })
    }
}

/// One device's configuration state, shared by all its connections (SSH and telnet).
#[derive(Debug, Default)]
pub(crate) struct DeviceConfig {
    /// Lines added to the running configuration, in order.
    running: Mutex<Vec<String>>,
    /// Lines accepted into the running configuration (directly or by a commit).
    applied: AtomicU64,
    commits: AtomicU64,
    saves: AtomicU64,
}

/// What a device's configuration has seen, for the fleet's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConfigCounts {
    pub applied: u64,
    pub commits: u64,
    pub saves: u64,
}

impl DeviceConfig {
    /// Adds an accepted line to the running configuration (platforms without a candidate).
    pub(crate) fn apply(&self, line: &str) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line.to_owned());
        self.applied.fetch_add(1, Ordering::Relaxed);
    }

    /// Moves a session's candidate into the running configuration.
    pub(crate) fn commit(&self, candidate: &mut Candidate) {
        let lines = std::mem::take(&mut candidate.lines);
        self.applied
            .fetch_add(lines.len() as u64, Ordering::Relaxed);
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(lines);
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a save of the running configuration.
    pub(crate) fn save(&self) {
        self.saves.fetch_add(1, Ordering::Relaxed);
    }

    /// The lines changes added so far.
    pub(crate) fn added_lines(&self) -> Vec<String> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn counts(&self) -> ConfigCounts {
        ConfigCounts {
            applied: self.applied.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            saves: self.saves.load(Ordering::Relaxed),
        }
    }
}

/// One session's uncommitted changes (platforms that commit).
#[derive(Debug, Default)]
pub(crate) struct Candidate {
    pub lines: Vec<String>,
}

/// What a line typed in configuration mode does to the state, for platforms whose commit
/// and abort commands the table gives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The candidate was committed.
    Committed,
    /// The candidate was thrown away.
    Discarded,
    /// The line went into the candidate (or, without one, into the running configuration).
    Accepted,
}

impl DeviceConfig {
    /// Applies an accepted configuration-mode `line` the way `style` says: commit and abort
    /// act on the candidate; any other line joins the candidate, or the running configuration
    /// at once on a platform without one.
    pub(crate) fn take_line(
        &self,
        style: &ConfigStyle,
        candidate: &mut Candidate,
        line: &str,
    ) -> Effect {
        if style.is_commit(line) {
            self.commit(candidate);
            Effect::Committed
        } else if style.abort.as_deref() == Some(line.trim()) {
            candidate.lines.clear();
            Effect::Discarded
        } else if style.commit.is_some() {
            candidate.lines.push(line.to_owned());
            Effect::Accepted
        } else {
            self.apply(line);
            Effect::Accepted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_come_from_the_platform_table() {
        let ios = ConfigStyle::of("cisco_ios");
        assert_eq!(ios.commit, None);
        assert_eq!(ios.save.as_deref(), Some("write memory"));
        let junos = ConfigStyle::of("juniper_junos");
        assert_eq!(junos.commit.as_deref(), Some("commit"));
        assert_eq!(junos.abort.as_deref(), Some("rollback"));
        assert!(junos.is_commit("commit confirmed 5"));
        assert!(!junos.is_commit("commit check"));
        assert_eq!(ConfigStyle::of("cisco_xr").abort.as_deref(), Some("abort"));
    }

    #[test]
    fn a_candidate_reaches_the_running_configuration_only_when_committed() {
        let junos = ConfigStyle::of("juniper_junos");
        let device = DeviceConfig::default();
        let mut first = Candidate::default();
        device.take_line(&junos, &mut first, "set system ntp server 10.0.0.1");
        assert!(device.added_lines().is_empty());
        assert_eq!(
            device.take_line(&junos, &mut first, "rollback"),
            Effect::Discarded
        );
        device.take_line(&junos, &mut first, "set system ntp server 10.0.0.2");
        assert_eq!(
            device.take_line(&junos, &mut first, "commit"),
            Effect::Committed
        );
        assert_eq!(device.added_lines(), ["set system ntp server 10.0.0.2"]);
        assert_eq!(
            device.counts(),
            ConfigCounts {
                applied: 1,
                commits: 1,
                saves: 0
            }
        );

        let ios = ConfigStyle::of("cisco_ios");
        let device = DeviceConfig::default();
        device.take_line(&ios, &mut Candidate::default(), "ntp server 10.0.0.1");
        assert_eq!(device.added_lines(), ["ntp server 10.0.0.1"]);
    }
}
