//! Reads and validates `devices.yaml` inventories into device targets: netmiko-style entries,
//! groups, `defaults:`, secret references, per-device time limits and simulator settings,
//! and the `--limit` selection.
//!
//! # Format
//!
//! ```yaml
//! defaults:                      # merged into every entry that does not set the field
//!   device_type: cisco_ios
//!   username: admin
//!   password: ${NETSWEEP_PASSWORD}   # or password_env: NAME, or password_file: path
//!   secret_file: ~/.netsweep/enable
//! routers:                       # a group: `--limit routers`
//!   - host: 127.0.1.1            # or `ip:`; name defaults to the host
//!   - name: core-2
//!     ip: 127.0.1.2
//!     port: 2222
//!     command_timeout: 60s       # or netmiko's `timeout: 60`
//! switches:
//!   - host: 127.0.2.1
//!     groups: [access]           # extra groups
//! ```
//!
//! `platforms:` (beside `defaults:`) defines platforms netsweep does not know, in the
//! platform table's shape (see netsweep-platform): a full definition or `base: cisco_ios`
//! plus overrides. Entries may then use them as `device_type`, as well as `autodetect`.
//!
//! A plain top-level list of entries also works (no groups). Entry fields: `name`,
//! `device_type`, `host`/`ip`, `port` (22; 23 over telnet), `transport` (`ssh`, the default,
//! or `telnet`; a `*_telnet` device type says telnet too), `username`,
//! `password`/`password_env`/`password_file`, `secret`/`secret_env`/`secret_file`,
//! `key_file`, `connect_timeout`
//! (netmiko `conn_timeout`), `command_timeout` (netmiko `timeout`, `read_timeout_override`),
//! `deadline`, `groups`, `simulate`, `vars`. Durations are `10s`, `500ms`, `2m`, `1m30s` or a
//! number of seconds. Relative paths are relative to the inventory's directory.
//!
//! A credential written as exactly `${NAME}` is read from the environment variable `NAME`
//! (write `$${...}` for a credential that really starts with `${`); other values are taken
//! literally. `defaults:` merges shallowly: an entry that sets a field in any spelling
//! (`ip` for `host`, `password_env` for `password`, a whole `simulate:` block) hides the
//! default. YAML anchors and `<<:` merge keys work as well.
//!
//! # Variables for change templates
//!
//! `vars:` is a mapping of names to any YAML values (strings, numbers, booleans, lists,
//! nested mappings), which `netsweep run --config` templates see as `{{ NAME }}` and
//! `{{ vars.NAME }}`. It may be written on an entry, in `defaults:`, and per group under the
//! top-level `group_vars:` (beside `defaults:`), which also reaches groups named only in
//! entries' `groups:` lists:
//!
//! ```yaml
//! defaults:
//!   vars: {ntp_server: 10.0.0.1, vlan: 10}
//! group_vars:
//!   routers: {vlan: 20}
//!   access: {vlan: 30, snmp: {contact: noc, location: lab}}
//! routers:
//!   - host: 127.0.1.1
//!     groups: [access]
//!     vars: {ntp_server: 10.9.9.9}
//! ```
//!
//! Unlike other fields, vars merge **key by key** (top-level keys only; a nested mapping is
//! replaced whole), most specific last: `defaults:`, then each of the device's groups in order
//! — the group the entry is written under, then its `groups:` list — then the entry. A later
//! group wins over an earlier one. Above, `127.0.1.1` gets `vlan: 30` and `ntp_server:
//! 10.9.9.9`.
//!
//! A var's name must be one a template can reach (`[A-Za-z_][A-Za-z0-9_]*`) and must not be
//! one of [`RESERVED_VAR_NAMES`] (the device's own fields, which templates see too, `vars`,
//! and the template language's literals). A number or boolean keeps its type only when
//! written plainly (`9000`, `-1`, `2.5`, `true`, `false`); any other spelling (`010`, `0x1F`,
//! `1.10`, `yes`) stays the text as written, so a line renders exactly as the file says. An
//! empty value is refused (write `''` for an empty string).
//!
//! # Errors
//!
//! Validation is strict (unknown fields, missing host, bad port, duplicate names, unknown
//! `device_type`, unset variables, unreadable secret files …) and reports **every** problem
//! of the file at once, each as `file:line:column: message`, in file order (see
//! [`InventoryError::Invalid`]). A YAML syntax error stops reading and comes alone.
//! Messages never contain a credential.
//!
//! This crate must not open network connections and must not print.

mod duration;
mod entry;
mod error;
mod node;
mod select;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netsweep_platform::PlatformTable;
use netsweep_protocol::{DeviceTarget, Timeouts};
use sha2::{Digest, Sha256};

pub use duration::{parse_duration, parse_timeout};
pub use error::{InventoryError, Location, MAX_DISPLAYED_PROBLEMS, Problem, ProblemKind};

/// The top-level key under which an inventory defines its own platforms.
pub const PLATFORMS_KEY: &str = "platforms";

/// The top-level key under which an inventory gives groups their `vars:`.
pub const GROUP_VARS_KEY: &str = "group_vars";

/// Names a var may not take: the device fields a change template sees beside its vars
/// (`name`, `host`, `port`, `platform`, `username`, `groups`), `vars` itself, and the
/// template language's literals. Refused when the inventory is read, so a var can never be
/// silently hidden by a device field.
pub const RESERVED_VAR_NAMES: &[&str] = &[
    "name", "host", "port", "platform", "username", "groups", "vars", "true", "false", "none",
    "True", "False", "None",
];

/// A device's variables for change templates: name → YAML value (as JSON's data model), the
/// merge of `defaults:`, its groups' and its entry's `vars:`.
pub type Vars = serde_json::Map<String, serde_json::Value>;

/// A loaded, validated inventory.
#[derive(Clone, Debug)]
pub struct Inventory {
    /// The platforms in effect: those the inventory was loaded with, plus its own
    /// `platforms:`.
    pub platforms: PlatformTable,
    /// The file it was read from, as named by the caller.
    pub path: PathBuf,
    /// Every device, in file order (a device's index is its job id).
    pub devices: Vec<InventoryDevice>,
    /// Group names, in first-seen order.
    pub groups: Vec<String>,
    content_hash: String,
}

/// One device of the inventory.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryDevice {
    /// Where and how to connect; `platform` is canonical, credentials resolved, groups filled.
    pub target: DeviceTarget,
    /// This device's own time limits, overriding the command line's.
    pub timeouts: TimeoutOverrides,
    /// How `netsweep run --simulate` should make this device behave.
    pub simulate: Option<SimSettings>,
    /// Variables for change templates, merged. Kept here, not in the `DeviceTarget`: only
    /// the coordinator renders templates, so vars never travel to workers.
    pub vars: Vars,
    /// Where the entry is written, for later error messages about this device.
    pub location: Location,
}

impl InventoryDevice {
    /// The device's unique name.
    pub fn name(&self) -> &str {
        &self.target.name
    }
}

/// Per-device time limits; `None` keeps the sweep-wide value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeoutOverrides {
    /// TCP connect (`connect_timeout`, netmiko `conn_timeout`).
    pub connect_timeout: Option<Duration>,
    /// Any single read (`command_timeout`, netmiko `timeout` / `read_timeout_override`).
    pub command_timeout: Option<Duration>,
    /// The whole device (`deadline`).
    pub deadline: Option<Duration>,
}

impl TimeoutOverrides {
    /// `base` with this device's overrides applied.
    pub fn apply(&self, base: Timeouts) -> Timeouts {
        Timeouts {
            connect: self.connect_timeout.unwrap_or(base.connect),
            command: self.command_timeout.unwrap_or(base.command),
            deadline: self.deadline.unwrap_or(base.deadline),
        }
    }
}

/// A device's `simulate:` block. The strings are checked by the simulator, which knows what
/// faults and latencies mean; this crate only checks the shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimSettings {
    /// Faults, e.g. `auth`, `hang-banner`, `flaky:2` (`fault:` takes a string or a list).
    pub fault: Vec<String>,
    /// Per-command latency, e.g. `200ms`.
    pub latency: Option<String>,
    /// Latency jitter, e.g. `50ms`.
    pub jitter: Option<String>,
    /// Delay before the SSH banner.
    pub banner_delay: Option<String>,
    /// Size of `show running-config`.
    pub running_config_bytes: Option<u64>,
    /// Log in straight at privilege 15 (`#` prompt, no `enable` needed).
    pub privilege15: Option<bool>,
}

/// Reads and validates the inventory at `path`.
///
/// `platforms` is the table `device_type` is checked against (netsweep's built-in table, plus
/// any `--platforms` file); the inventory's own `platforms:` are added to it. Credential
/// references are read from the process environment.
pub fn load(path: &Path, platforms: &PlatformTable) -> Result<Inventory, InventoryError> {
    load_with_env(path, platforms, &|name| std::env::var(name).ok())
}

/// [`load`] with the environment supplied by the caller (tests; callers that must not read
/// the process environment).
pub fn load_with_env(
    path: &Path,
    platforms: &PlatformTable,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Inventory, InventoryError> {
    let bytes = std::fs::read(path).map_err(|source| InventoryError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path, platforms, env)
}

/// Validates inventory text already in memory. `path` is used for messages and as the base
/// of relative paths inside the inventory.
pub fn parse(
    bytes: &[u8],
    path: &Path,
    platforms: &PlatformTable,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Inventory, InventoryError> {
    let content_hash = hex_sha256(bytes);
    let at = |line, column, kind| InventoryError::Invalid {
        problems: vec![Problem {
            location: Location {
                file: path.to_path_buf(),
                line,
                column,
            },
            kind,
        }],
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() as u64 + 1;
            let column = valid.iter().rev().take_while(|b| **b != b'\n').count() as u64 + 1;
            return Err(at(line, column, ProblemKind::NotUtf8));
        }
    };
    let root = node::parse(text)
        .map_err(|f| at(f.line, f.column, ProblemKind::Syntax { message: f.message }))?;
    // Read a second time, as platform definitions, only when there is something to read.
    let own_platforms = if root.has_key(PLATFORMS_KEY) {
        platforms
            .with_inventory_platforms(text, path)
            .map_err(|e| platform_problems(e, path))?
    } else {
        None
    };
    let platforms = own_platforms.unwrap_or_else(|| platforms.clone());
    let mut reader = entry::Reader::new(path, &platforms, env);
    let (partials, groups) = reader.read_document(root);
    let devices = reader.settle_names(partials);
    let problems = reader.into_problems();
    if !problems.is_empty() {
        return Err(InventoryError::Invalid { problems });
    }
    if devices.is_empty() {
        return Err(at(1, 1, ProblemKind::EmptyInventory));
    }
    Ok(Inventory {
        platforms,
        path: path.to_path_buf(),
        devices,
        groups,
        content_hash,
    })
}

/// An inventory's platform definitions' problems, as inventory problems.
fn platform_problems(e: netsweep_platform::PlatformError, path: &Path) -> InventoryError {
    InventoryError::Invalid {
        problems: e
            .problems()
            .into_iter()
            .map(|p| Problem {
                location: p.location.unwrap_or(Location {
                    file: path.to_path_buf(),
                    line: 1,
                    column: 1,
                }),
                kind: ProblemKind::Platform { message: p.message },
            })
            .collect(),
    }
}

impl Inventory {
    /// SHA-256 of the file's bytes, lowercase hex: the journal records it so a resume can
    /// tell whether the inventory changed.
    pub fn content_hash(&self) -> String {
        self.content_hash.clone()
    }

    /// The device with this name.
    pub fn get(&self, name: &str) -> Option<&InventoryDevice> {
        self.devices.iter().find(|d| d.target.name == name)
    }

    /// The devices `--limit` selects, in inventory order, each once.
    ///
    /// Each pattern is a device name, a group name, or a glob over either (`core-*`,
    /// `r[1-3]`, `{routers,switches}`); a pattern starting with `!` removes what it matches.
    /// No pattern (or only exclusions) starts from every device. A pattern that matches
    /// nothing is an error: a typo must not shrink a sweep silently.
    pub fn select(&self, limit: &[String]) -> Result<Vec<&InventoryDevice>, InventoryError> {
        select::select(self, limit)
    }
}

impl fmt::Display for Inventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} devices, {} groups)",
            self.path.display(),
            self.devices.len(),
            self.groups.len()
        )
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
