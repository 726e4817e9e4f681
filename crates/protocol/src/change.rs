//! A configuration change as a worker receives it (lines already rendered for the device),
//! and what the device made of it.
//!
//! The coordinator renders each device's lines before the job leaves it; nothing here knows
//! templates, platforms or sessions. [`ChangeReport`] travels inside the [`crate::DeviceRecord`],
//! so its JSON field names are a public interface: add fields, do not rename them.

use serde::{Deserialize, Serialize};

/// What to change on one device, and how to finish the change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// Configuration lines, sent in order inside configuration mode.
    pub lines: Vec<String>,
    /// Commands run after configuration mode is left (`--after-command`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Save the running configuration when the lines were accepted (`--save`; platforms
    /// that commit save by committing).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub save: bool,
    /// Ask the device whether it would accept the change, then discard it (`--check`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
    /// Keep a unified diff of the running configuration before and after (`--diff`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diff: bool,
    /// Commit with automatic rollback after this many minutes, then confirm
    /// (`--confirm-timeout`, platforms that commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_minutes: Option<u32>,
}

/// How a configuration change went on one device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeReport {
    /// Lines the device accepted, in order (on platforms that commit: accepted into the
    /// candidate; see `committed`).
    pub applied: Vec<String>,
    /// The line the device refused, and its answer; nothing after it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<RejectedLine>,
    /// Every command the change sent besides its lines (entering and leaving configuration
    /// mode, commit, abort, save), in order.
    #[serde(default)]
    pub ran: Vec<String>,
    /// The candidate was committed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub committed: bool,
    /// The candidate was discarded (a rejected line, or `--check`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discarded: bool,
    /// The configuration was saved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub saved: bool,
    /// Under `--check`: what the device said of the change (or why it could not be asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Unified diff of the running configuration, before → after (`--diff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A configuration line the device refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedLine {
    /// The line as sent (or, for a template that could not be rendered, empty).
    pub line: String,
    /// The device's answer (or the rendering error).
    pub answer: String,
}
