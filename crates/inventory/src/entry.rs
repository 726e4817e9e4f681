//! Turns the located YAML tree into devices: shapes (grouped, list), `defaults:` merging,
//! field validation, secret references and default names.
//!
//! Validation never stops at the first problem: every problem is collected with its location
//! and the caller reports them all. This module must not print and must never put a
//! credential into a problem message.
//!
//! The reader's parts: `fields` (the tables of spellings), `credentials`, `jump` (`jump_host:`
//! hops and the SSH settings), `simulate` (the `simulate:` block), `vars` (`vars:` and
//! `group_vars:`, merged key by key) and `names` (default names and duplicates); here, the
//! document's shape,
//! `defaults:` merging and the plain fields.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use netsweep_platform::{AUTODETECT, PlatformTable};
use netsweep_protocol::{DeviceTarget, Transport};

use crate::duration;
use crate::error::{Location, Problem, ProblemKind};
use crate::node::{Kind, Node, Typed};
use crate::{GROUP_VARS_KEY, InventoryDevice, PLATFORMS_KEY, TimeoutOverrides};

mod credentials;
mod fields;
mod jump;
mod names;
mod simulate;
mod vars;

use fields::{DEFAULTS_FIELDS, ENTRY_FIELDS, FIELDS, NETMIKO_OPTIONS, Slot, closest};
pub(crate) use names::{Partial, Partials};
use vars::SharedVars;

/// Line and column in the inventory file.
type Position = (u64, u64);

pub(crate) struct Reader<'a> {
    file: &'a Path,
    base_dir: PathBuf,
    platforms: &'a PlatformTable,
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
    file_secrets: HashMap<PathBuf, Result<String, ProblemKind>>,
    key_files: HashMap<PathBuf, Result<(), String>>,
    has_defaults: bool,
    /// Names written in entries that were not read for other problems, so duplicates of them
    /// are reported too.
    rejected_names: Vec<(String, Position)>,
}

/// What a `device_type` name says: the canonical platform, and the transport when the name
/// implies one (`cisco_ios_telnet`); other names leave it to `transport:` (SSH by default).
struct DeviceType {
    platform: String,
    transport: Option<Transport>,
}

/// What every entry of a grouped inventory inherits: `defaults:`'s fields (merged slot by
/// slot) and the vars of `defaults:` and `group_vars:` (merged key by key).
#[derive(Default)]
struct Inherited<'n> {
    fields: Fields<'n>,
    vars: SharedVars,
}

/// The field map of one entry (or of `defaults:`) after spelling checks.
type Fields<'n> = BTreeMap<Slot, Field<'n>>;

#[derive(Clone, Copy)]
struct Field<'n> {
    /// As written (`ip`, `conn_timeout`, …).
    name: &'static str,
    key: &'n Node,
    value: &'n Node,
}

impl<'a> Reader<'a> {
    pub fn new(
        file: &'a Path,
        platforms: &'a PlatformTable,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let base_dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Reader {
            file,
            base_dir,
            platforms,
            env,
            problems: Vec::new(),
            file_secrets: HashMap::new(),
            key_files: HashMap::new(),
            has_defaults: false,
            rejected_names: Vec::new(),
        }
    }

    pub fn location(&self, node: &Node) -> Location {
        self.location_at(position(node))
    }

    fn location_at(&self, (line, column): Position) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line,
            column,
        }
    }

    pub fn problem(&mut self, node: &Node, kind: ProblemKind) {
        let location = self.location(node);
        self.problems.push(Problem { location, kind });
    }

    fn structure(&mut self, node: &Node, message: impl Into<String>) {
        self.problem(
            node,
            ProblemKind::Structure {
                message: message.into(),
            },
        );
    }

    /// Reads the whole document: devices in file order and group names in first-seen order.
    /// Problems are collected, not returned.
    ///
    /// The tree is consumed: each entry is dropped as soon as it has been read, so the tree
    /// shrinks while the devices grow instead of both being whole at once.
    pub fn read_document(&mut self, root: Node) -> (Partials, Vec<String>) {
        let mut devices = Partials::default();
        let mut groups: Vec<String> = Vec::new();
        let mut group_vars_named_at = Vec::new();
        let described = root.describe();
        let Node { kind, line, column } = root;
        // Stands for the document in problems about its overall shape.
        let whole = Node {
            kind: Kind::Null,
            line,
            column,
        };
        match kind {
            Kind::Null => {}
            Kind::Seq(entries) => {
                devices.reserve_exact(entries.len());
                for entry in entries {
                    if let Some(d) = self.read_entry(&entry, None, &Inherited::default()) {
                        devices.push(d);
                    }
                }
            }
            Kind::Map(pairs) => {
                let mut pairs = pairs.into_vec();
                let looks_like_entry = pairs.iter().any(|(k, _)| {
                    matches!(k.text(), Some("device_type" | "host" | "ip" | "username"))
                });
                if looks_like_entry {
                    self.structure(
                        &whole,
                        "the top level looks like a single device entry; write devices as a list \
                         (`- device_type: ...`) or under a group name (`routers:`)",
                    );
                    return (devices, groups);
                }
                let defaults = pairs
                    .iter()
                    .position(|(k, _)| k.text() == Some("defaults"))
                    .map(|i| pairs.remove(i).1);
                let group_vars = pairs
                    .iter()
                    .position(|(k, _)| k.text() == Some(GROUP_VARS_KEY))
                    .map(|i| pairs.remove(i).1);
                let mut defaults = match &defaults {
                    Some(node) => {
                        self.has_defaults = true;
                        self.read_defaults(node)
                    }
                    None => Fields::new(),
                };
                // Vars merge key by key, not as a slot an entry's own `vars:` would hide.
                let mut shared = SharedVars::default();
                if let Some(f) = defaults.remove(&Slot::Vars) {
                    shared.defaults = self.vars(f.value, "defaults.vars").unwrap_or_default();
                }
                if let Some(node) = &group_vars {
                    self.group_vars(node, &mut shared);
                }
                let mut inherited = Inherited {
                    fields: defaults,
                    vars: shared,
                };
                let entry_count = pairs
                    .iter()
                    .map(|(_, v)| match &v.kind {
                        Kind::Seq(entries) => entries.len(),
                        _ => 0,
                    })
                    .sum();
                devices.reserve_exact(entry_count);
                for (key, value) in pairs {
                    let Some(group) = key.text().map(str::to_owned) else {
                        self.structure(
                            &key,
                            format!("a group name must be a string, not {}", key.describe()),
                        );
                        continue;
                    };
                    // `platforms:` was read with the platform table (lib.rs `parse`).
                    if group == "defaults" || group == PLATFORMS_KEY {
                        continue;
                    }
                    if group.trim().is_empty() {
                        self.structure(&key, "a group name must not be empty");
                        continue;
                    }
                    if !matches!(value.kind, Kind::Null | Kind::Seq(_)) {
                        self.structure(
                            &value,
                            format!(
                                "group `{group}` must be a list of device entries, not {}",
                                value.describe()
                            ),
                        );
                        continue;
                    }
                    if let Kind::Seq(entries) = value.kind {
                        for entry in entries {
                            if let Some(d) = self.read_entry(&entry, Some(&group), &inherited) {
                                devices.push(d);
                            }
                        }
                    }
                    if !groups.contains(&group) {
                        groups.push(group);
                    }
                }
                group_vars_named_at = std::mem::take(&mut inherited.vars.named_at);
            }
            _ => self.structure(
                &whole,
                format!(
                    "an inventory must be a list of device entries or a mapping of group names \
                     to lists of entries, not {described}"
                ),
            ),
        }
        for d in &devices.devices {
            for g in &d.target.groups {
                if !groups.contains(g) {
                    groups.push(g.clone());
                }
            }
        }
        self.check_group_vars_groups(&group_vars_named_at, &groups);
        (devices, groups)
    }

    fn read_defaults<'n>(&mut self, node: &'n Node) -> Fields<'n> {
        match &node.kind {
            Kind::Null => Fields::new(),
            Kind::Map(pairs) => self.collect_fields(pairs, "defaults", DEFAULTS_FIELDS),
            _ => {
                self.structure(
                    node,
                    format!("`defaults` must be a mapping, not {}", node.describe()),
                );
                Fields::new()
            }
        }
    }

    /// Checks each key's spelling and that no slot is set twice.
    fn collect_fields<'n>(
        &mut self,
        pairs: &'n [(Node, Node)],
        context: &'static str,
        allowed: &'static [&'static str],
    ) -> Fields<'n> {
        let mut fields = Fields::new();
        for (key, value) in pairs {
            let Some(written) = key.text() else {
                self.structure(
                    key,
                    format!("a field name must be a string, not {}", key.describe()),
                );
                continue;
            };
            let known = FIELDS
                .iter()
                .find(|(name, _)| *name == written && allowed.contains(name));
            let Some(&(name, slot)) = known else {
                let kind = if let Some(&field) = ENTRY_FIELDS.iter().find(|f| **f == written) {
                    ProblemKind::NotAllowedHere { field, context }
                } else if NETMIKO_OPTIONS.contains(&written) {
                    ProblemKind::UnsupportedNetmikoOption {
                        field: written.to_owned(),
                    }
                } else {
                    ProblemKind::UnknownField {
                        field: written.to_owned(),
                        context,
                        suggestion: closest(written, allowed),
                        expected: allowed,
                    }
                };
                self.problem(key, kind);
                continue;
            };
            if let Some(earlier) = fields.get(&slot) {
                let first = earlier.name.to_owned();
                self.problem(
                    key,
                    ProblemKind::ConflictingFields {
                        first,
                        second: name.to_owned(),
                    },
                );
                continue;
            }
            fields.insert(slot, Field { name, key, value });
        }
        fields
    }

    fn read_entry(
        &mut self,
        entry: &Node,
        group: Option<&str>,
        inherited: &Inherited<'_>,
    ) -> Option<Partial> {
        let Kind::Map(pairs) = &entry.kind else {
            self.structure(
                entry,
                format!(
                    "a device entry must be a mapping (`device_type: ...`, `host: ...`), not {}",
                    entry.describe()
                ),
            );
            return None;
        };
        let mut fields = self.collect_fields(pairs, "device entry", ENTRY_FIELDS);
        let own_vars = fields.remove(&Slot::Vars);
        let own_device_type = fields.contains_key(&Slot::DeviceType);
        let own_transport = fields.contains_key(&Slot::Transport);
        for (slot, field) in &inherited.fields {
            fields.entry(*slot).or_insert(*field);
        }
        let location = self.location(entry);
        let problems_before = self.problems.len();

        let explicit_name = fields
            .get(&Slot::Name)
            .and_then(|f| self.name(f).map(|n| (n, position(f.value))));
        let device_type = self.required(&fields, Slot::DeviceType, "device_type", entry);
        let device_type = device_type.and_then(|f| self.device_type(f));
        let transport = match (fields.get(&Slot::Transport), &device_type) {
            (Some(f), Some(dt)) => {
                // An entry's own device type outranks a transport from `defaults:`.
                let defaults_only = own_device_type && !own_transport;
                self.transport(f, dt, defaults_only)
            }
            (Some(f), None) => self.transport_value(f),
            (None, Some(dt)) => Some(dt.transport.unwrap_or_default()),
            (None, None) => None,
        };
        let platform = device_type.map(|dt| dt.platform);
        let host = self
            .required(&fields, Slot::Host, "host", entry)
            .and_then(|f| self.host(f));
        let port = match fields.get(&Slot::Port) {
            Some(f) => self.port(f),
            None => transport.map(Transport::default_port),
        };
        let username = self
            .required(&fields, Slot::Username, "username", entry)
            .and_then(|f| self.plain_string(f));
        let password = fields
            .get(&Slot::Password)
            .and_then(|f| self.credential(f, "password"));
        let secret = fields
            .get(&Slot::Secret)
            .and_then(|f| self.credential(f, "secret"));
        let key_file = fields.get(&Slot::KeyFile).and_then(|f| self.key_file(f));
        let ssh = self.ssh_settings(&fields);
        let timeouts = TimeoutOverrides {
            connect_timeout: fields.get(&Slot::Connect).and_then(|f| self.duration(f)),
            command_timeout: fields.get(&Slot::Command).and_then(|f| self.duration(f)),
            deadline: fields.get(&Slot::Deadline).and_then(|f| self.duration(f)),
        };
        let mut groups: Vec<String> = group.map(str::to_owned).into_iter().collect();
        if let Some(f) = fields.get(&Slot::Groups) {
            for g in self.string_list(f) {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        let simulate = fields.get(&Slot::Simulate).and_then(|f| self.simulate(f));
        let own_vars = own_vars.and_then(|f| self.vars(f.value, "vars"));
        let vars = inherited.vars.merge(&groups, own_vars);

        if self.problems.len() > problems_before {
            // A written name still counts: a duplicate must not hide behind another problem.
            if let Some(name) = explicit_name {
                self.rejected_names.push(name);
            }
            return None;
        }
        Some(Partial {
            explicit_name,
            device: InventoryDevice {
                target: DeviceTarget {
                    name: String::new(),
                    host: host?,
                    port: port?,
                    platform: platform?,
                    transport: transport?,
                    password,
                    secret,
                    key_file,
                    ssh: ssh.finish(username.as_deref()),
                    username: username?,
                    groups,
                },
                timeouts,
                simulate,
                vars,
                location,
            },
        })
    }

    fn required<'f, 'n>(
        &mut self,
        fields: &'f Fields<'n>,
        slot: Slot,
        field: &'static str,
        entry: &Node,
    ) -> Option<&'f Field<'n>> {
        let found = fields.get(&slot).filter(|f| !f.value.is_null());
        if found.is_none() {
            let in_defaults_too = self.has_defaults && slot != Slot::Host;
            self.problem(
                entry,
                ProblemKind::MissingField {
                    field,
                    in_defaults_too,
                },
            );
        }
        found
    }

    /// A scalar as text; anything else is a typed problem (never showing the value).
    fn text<'n>(&mut self, f: &Field<'n>) -> Option<&'n str> {
        let text = f.value.text();
        if text.is_none() {
            self.problem(
                f.value,
                ProblemKind::WrongType {
                    field: f.name.to_owned(),
                    expected: "a string",
                    found: f.value.describe(),
                },
            );
        }
        text
    }

    /// A non-empty, single-line string.
    fn plain_string(&mut self, f: &Field<'_>) -> Option<String> {
        let text = self.text(f)?;
        if text.trim().is_empty() {
            self.invalid(f, "must not be empty".into());
            return None;
        }
        if text.chars().any(char::is_control) {
            self.invalid(f, "must not contain control characters".into());
            return None;
        }
        Some(text.to_owned())
    }

    fn invalid(&mut self, f: &Field<'_>, reason: String) {
        self.problem(
            f.value,
            ProblemKind::InvalidValue {
                field: f.name.to_owned(),
                reason,
            },
        );
    }

    fn name(&mut self, f: &Field<'_>) -> Option<String> {
        self.plain_string(f)
    }

    fn device_type(&mut self, f: &Field<'_>) -> Option<DeviceType> {
        let written = self.text(f)?;
        if written == AUTODETECT {
            return Some(DeviceType {
                platform: AUTODETECT.to_owned(),
                transport: None,
            });
        }
        if let Some(t) = self.platforms.resolve(written) {
            // A `*_telnet` alias of the table says telnet; other names leave it to
            // `transport:`.
            return Some(DeviceType {
                platform: t.platform.name().to_owned(),
                transport: (t.transport == Transport::Telnet).then_some(Transport::Telnet),
            });
        }
        let hint = if written.ends_with("_serial") {
            "; netsweep does not connect over serial lines"
        } else {
            ""
        };
        let mut supported: Vec<String> = self
            .platforms
            .device_type_names()
            .into_iter()
            .map(str::to_owned)
            .chain([AUTODETECT.to_owned()])
            .collect();
        supported.sort();
        self.problem(
            f.value,
            ProblemKind::UnknownDeviceType {
                device_type: written.to_owned(),
                supported,
                hint,
            },
        );
        None
    }

    /// `ssh` or `telnet`.
    fn transport_value(&mut self, f: &Field<'_>) -> Option<Transport> {
        let written = self.text(f)?;
        match written.parse() {
            Ok(t) => Some(t),
            Err(_) => {
                self.invalid(f, format!("`{written}` is not a transport (ssh or telnet)"));
                None
            }
        }
    }

    /// The `transport` field against the one a `*_telnet` device type implies. When
    /// `defaults_only` (the field comes from `defaults:`, the device type from the entry), the
    /// device type wins; otherwise saying both ways is a mistake.
    fn transport(
        &mut self,
        f: &Field<'_>,
        device_type: &DeviceType,
        defaults_only: bool,
    ) -> Option<Transport> {
        let written = self.transport_value(f)?;
        match device_type.transport {
            Some(implied) if implied != written => {
                if defaults_only {
                    return Some(implied);
                }
                self.invalid(
                    f,
                    format!(
                        "`{written}` contradicts the device_type, which connects over {implied}"
                    ),
                );
                None
            }
            _ => Some(written),
        }
    }

    fn host(&mut self, f: &Field<'_>) -> Option<String> {
        let host = self.plain_string(f)?;
        if host.chars().any(char::is_whitespace) {
            self.invalid(f, format!("`{host}` contains whitespace"));
            return None;
        }
        Some(host)
    }

    fn port(&mut self, f: &Field<'_>) -> Option<u16> {
        let value = match (&f.value.kind, f.value.typed()) {
            (_, Some((Typed::Int(i), _))) => Some(i),
            (Kind::Str(s), _) => s.trim().parse::<i128>().ok(),
            _ => None,
        };
        match value.map(u16::try_from) {
            Some(Ok(port)) if port > 0 => Some(port),
            _ => {
                let shown = f.value.text().unwrap_or_else(|| f.value.describe());
                self.invalid(f, format!("`{shown}` is not a port number (1 to 65535)"));
                None
            }
        }
    }

    fn duration(&mut self, f: &Field<'_>) -> Option<Duration> {
        let parsed = match (&f.value.kind, f.value.typed()) {
            (_, Some((Typed::Int(i), raw))) => duration::from_seconds(i as f64, raw),
            (_, Some((Typed::Float(x), raw))) => duration::from_seconds(x, raw),
            (Kind::Str(s), _) => duration::parse_timeout(s),
            _ => {
                self.problem(
                    f.value,
                    ProblemKind::WrongType {
                        field: f.name.to_owned(),
                        expected: "a duration like `10s` or a number of seconds",
                        found: f.value.describe(),
                    },
                );
                return None;
            }
        };
        parsed.map_err(|reason| self.invalid(f, reason)).ok()
    }

    fn string_list(&mut self, f: &Field<'_>) -> Vec<String> {
        let items: Vec<&Node> = match &f.value.kind {
            Kind::Seq(items) => items.iter().collect(),
            Kind::Str(_) | Kind::Typed(_) => vec![f.value],
            Kind::Null => vec![],
            Kind::Map(_) => {
                self.problem(
                    f.value,
                    ProblemKind::WrongType {
                        field: f.name.to_owned(),
                        expected: "a string or a list of strings",
                        found: "a mapping",
                    },
                );
                return vec![];
            }
        };
        let mut out = Vec::new();
        for item in items {
            let field = Field {
                name: f.name,
                key: f.key,
                value: item,
            };
            if let Some(s) = self.plain_string(&field) {
                out.push(s);
            }
        }
        out
    }

    /// The problems, in file order, each once (a bad `defaults:` value is reported at its own
    /// line once, not once per device).
    pub fn into_problems(self) -> Vec<Problem> {
        let mut problems = self.problems;
        problems.sort_by(|a, b| a.location.cmp(&b.location));
        problems.dedup();
        problems
    }
}

fn position(node: &Node) -> Position {
    (u64::from(node.line), u64::from(node.column))
}

/// `[A-Za-z_][A-Za-z0-9_]*`: an environment variable's name, and a name a template can write
/// as `{{ name }}`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
