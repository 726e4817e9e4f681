//! Turns the located YAML tree into devices: shapes (grouped, list), `defaults:` merging,
//! field validation, secret references and default names.
//!
//! Validation never stops at the first problem: every problem is collected with its location
//! and the caller reports them all. This module must not print and must never put a
//! credential into a problem message.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netsweep_protocol::{DeviceTarget, Secret};

use crate::duration;
use crate::error::{Location, Problem, ProblemKind};
use crate::node::{Kind, Node, Typed};
use crate::{InventoryDevice, SimSettings, TimeoutOverrides};

/// One logical setting. Spellings that mean the same thing (`host`/`ip`, netmiko's
/// `conn_timeout`/our `connect_timeout`, `password`/`password_env`/`password_file`) share a
/// slot: an entry may set a slot once, and setting it hides the `defaults:` value whatever
/// spelling either uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Slot {
    Name,
    DeviceType,
    Host,
    Port,
    Username,
    Password,
    Secret,
    KeyFile,
    Connect,
    Command,
    Deadline,
    Groups,
    Simulate,
}

const FIELDS: &[(&str, Slot)] = &[
    ("name", Slot::Name),
    ("device_type", Slot::DeviceType),
    ("host", Slot::Host),
    ("ip", Slot::Host),
    ("port", Slot::Port),
    ("username", Slot::Username),
    ("password", Slot::Password),
    ("password_env", Slot::Password),
    ("password_file", Slot::Password),
    ("secret", Slot::Secret),
    ("secret_env", Slot::Secret),
    ("secret_file", Slot::Secret),
    ("key_file", Slot::KeyFile),
    ("connect_timeout", Slot::Connect),
    ("conn_timeout", Slot::Connect),
    ("command_timeout", Slot::Command),
    ("timeout", Slot::Command),
    ("read_timeout_override", Slot::Command),
    ("deadline", Slot::Deadline),
    ("groups", Slot::Groups),
    ("simulate", Slot::Simulate),
];

/// Every field a device entry accepts, for "expected one of" messages: the names of [`FIELDS`].
pub(crate) const ENTRY_FIELDS: &[&str] = &{
    let mut names = [""; FIELDS.len()];
    let mut i = 0;
    while i < FIELDS.len() {
        names[i] = FIELDS[i].0;
        i += 1;
    }
    names
};

/// Fields `defaults:` accepts: everything that can sensibly be shared.
const DEFAULTS_FIELDS: &[&str] = &[
    "device_type",
    "port",
    "username",
    "password",
    "password_env",
    "password_file",
    "secret",
    "secret_env",
    "secret_file",
    "key_file",
    "connect_timeout",
    "conn_timeout",
    "command_timeout",
    "timeout",
    "read_timeout_override",
    "deadline",
    "simulate",
];

const SIMULATE_FIELDS: &[&str] = &[
    "fault",
    "latency",
    "jitter",
    "banner_delay",
    "running_config_bytes",
    "privilege15",
];

/// netmiko `ConnectHandler` options that mean nothing to netsweep. Named so the error can
/// say "netmiko option" instead of a bare "unknown field".
const NETMIKO_OPTIONS: &[&str] = &[
    "allow_agent",
    "allow_auto_change",
    "alt_host_keys",
    "alt_key_file",
    "auth_timeout",
    "auto_connect",
    "banner_timeout",
    "blocking_timeout",
    "default_enter",
    "delay_factor_compat",
    "disable_lf_normalization",
    "disabled_algorithms",
    "encoding",
    "fast_cli",
    "global_cmd_verify",
    "global_delay_factor",
    "keepalive",
    "passphrase",
    "pkey",
    "response_return",
    "serial_settings",
    "session_log",
    "session_log_file_mode",
    "session_log_record_writes",
    "session_timeout",
    "sock",
    "ssh_config_file",
    "ssh_strict",
    "system_host_keys",
    "use_keys",
    "verbose",
];

/// A device as read from its entry, before names are settled (a default name depends on
/// whether other entries share the host).
pub(crate) struct Partial {
    pub explicit_name: Option<(String, Position)>,
    pub device: InventoryDevice,
}

/// Line and column in the inventory file.
type Position = (u64, u64);

/// Every device read, before names are settled: the devices themselves, already in the
/// vector that becomes the inventory's (a second one would double the peak for a large
/// fleet), and beside them the names their entries gave, if any.
#[derive(Default)]
pub(crate) struct Partials {
    devices: Vec<InventoryDevice>,
    explicit_names: Vec<Option<(String, Position)>>,
}

impl Partials {
    fn reserve_exact(&mut self, additional: usize) {
        self.devices.reserve_exact(additional);
        self.explicit_names.reserve_exact(additional);
    }

    fn push(&mut self, partial: Partial) {
        self.devices.push(partial.device);
        self.explicit_names.push(partial.explicit_name);
    }
}

pub(crate) struct Reader<'a> {
    file: &'a Path,
    base_dir: PathBuf,
    platforms: &'a [(&'a str, &'a str)],
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
    file_secrets: HashMap<PathBuf, Result<String, ProblemKind>>,
    key_files: HashMap<PathBuf, Result<(), String>>,
    has_defaults: bool,
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
        platforms: &'a [(&'a str, &'a str)],
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
                    if let Some(d) = self.read_entry(&entry, None, &Fields::new()) {
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
                let defaults = match &defaults {
                    Some(node) => {
                        self.has_defaults = true;
                        self.read_defaults(node)
                    }
                    None => Fields::new(),
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
                    if group == "defaults" {
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
                            if let Some(d) = self.read_entry(&entry, Some(&group), &defaults) {
                                devices.push(d);
                            }
                        }
                    }
                    if !groups.contains(&group) {
                        groups.push(group);
                    }
                }
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
        defaults: &Fields<'_>,
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
        for (slot, field) in defaults {
            fields.entry(*slot).or_insert(*field);
        }
        let location = self.location(entry);
        let problems_before = self.problems.len();

        let explicit_name = fields
            .get(&Slot::Name)
            .and_then(|f| self.name(f).map(|n| (n, position(f.value))));
        let platform = self.required(&fields, Slot::DeviceType, "device_type", entry);
        let platform = platform.and_then(|f| self.device_type(f));
        let host = self
            .required(&fields, Slot::Host, "host", entry)
            .and_then(|f| self.host(f));
        let port = match fields.get(&Slot::Port) {
            Some(f) => self.port(f),
            None => Some(22),
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

        if self.problems.len() > problems_before {
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
                    username: username?,
                    password,
                    secret,
                    key_file,
                    groups,
                    ssh: Default::default(),
                },
                timeouts,
                simulate,
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

    fn device_type(&mut self, f: &Field<'_>) -> Option<String> {
        let written = self.text(f)?;
        if let Some((_, canonical)) = self.platforms.iter().find(|(w, _)| *w == written) {
            return Some((*canonical).to_owned());
        }
        let mut supported: Vec<String> =
            self.platforms.iter().map(|(w, _)| w.to_string()).collect();
        supported.sort();
        supported.dedup();
        let hint = if written.ends_with("_telnet") || written.ends_with("_serial") {
            "; netsweep connects over SSH only"
        } else {
            ""
        };
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

    fn key_file(&mut self, f: &Field<'_>) -> Option<PathBuf> {
        let text = self.plain_string(f)?;
        let path = self.resolve_path(&text);
        let verdict = self
            .key_files
            .entry(path.clone())
            .or_insert_with(|| match fs::metadata(&path) {
                Ok(m) if m.is_file() => Ok(()),
                Ok(_) => Err("not a regular file".into()),
                Err(e) => Err(e.to_string()),
            })
            .clone();
        match verdict {
            Ok(()) => Some(path),
            Err(reason) => {
                self.problem(f.value, ProblemKind::KeyFileUnusable { path, reason });
                None
            }
        }
    }

    /// Relative paths are relative to the inventory's directory, so an inventory works from
    /// any working directory; `~/` is the user's home.
    fn resolve_path(&self, text: &str) -> PathBuf {
        if let Some(rest) = text.strip_prefix("~/")
            && let Some(home) = (self.env)("HOME")
        {
            return Path::new(&home).join(rest);
        }
        let path = Path::new(text);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// `password`, `password_env` or `password_file` (same for `secret`). A problem here
    /// names the variable or the file, never a value.
    fn credential(&mut self, f: &Field<'_>, field: &'static str) -> Option<Secret> {
        if f.value.is_null() {
            return None;
        }
        let Some(text) = f.value.text() else {
            self.problem(
                f.value,
                ProblemKind::WrongType {
                    field: f.name.to_owned(),
                    expected: "a string",
                    found: f.value.describe(),
                },
            );
            return None;
        };
        if f.name.ends_with("_env") {
            if !is_env_name(text) {
                self.invalid(f, format!("`{text}` is not an environment variable name"));
                return None;
            }
            return self.env_credential(f, field, text);
        }
        if f.name.ends_with("_file") {
            return self.file_credential(f, field, text);
        }
        if let Some(var) = text
            .strip_prefix("${")
            .and_then(|t| t.strip_suffix('}'))
            .filter(|v| is_env_name(v))
        {
            return self.env_credential(f, field, var);
        }
        // `$${X}` is the way to write a credential that really is `${X}`.
        if let Some(literal) = text.strip_prefix("$${") {
            return Some(Secret::new(format!("${{{literal}")));
        }
        Some(Secret::new(text))
    }

    fn env_credential(&mut self, f: &Field<'_>, field: &'static str, var: &str) -> Option<Secret> {
        match (self.env)(var) {
            None => {
                self.problem(
                    f.value,
                    ProblemKind::EnvVarNotSet {
                        field,
                        var: var.to_owned(),
                    },
                );
                None
            }
            Some(v) if v.is_empty() => {
                self.problem(
                    f.value,
                    ProblemKind::EnvVarEmpty {
                        field,
                        var: var.to_owned(),
                    },
                );
                None
            }
            Some(v) => Some(Secret::new(v)),
        }
    }

    fn file_credential(
        &mut self,
        f: &Field<'_>,
        field: &'static str,
        text: &str,
    ) -> Option<Secret> {
        let path = self.resolve_path(text);
        let cached = self
            .file_secrets
            .entry(path.clone())
            .or_insert_with(|| read_secret_file(&path, field))
            .clone();
        match cached {
            Ok(value) => Some(Secret::new(value)),
            Err(mut kind) => {
                // The cache is keyed by path; the field name is this use's.
                match &mut kind {
                    ProblemKind::SecretFileUnreadable { field: f2, .. }
                    | ProblemKind::SecretFileEmpty { field: f2, .. } => *f2 = f.name,
                    _ => {}
                }
                self.problem(f.value, kind);
                None
            }
        }
    }

    fn simulate(&mut self, f: &Field<'_>) -> Option<SimSettings> {
        let pairs = match &f.value.kind {
            Kind::Map(pairs) => pairs,
            Kind::Null => return None,
            _ => {
                self.problem(
                    f.value,
                    ProblemKind::WrongType {
                        field: "simulate".into(),
                        expected: "a mapping",
                        found: f.value.describe(),
                    },
                );
                return None;
            }
        };
        let mut sim = SimSettings::default();
        let mut ok = true;
        for (key, value) in pairs {
            let Some(written) = key.text() else {
                self.structure(
                    key,
                    format!("a field name must be a string, not {}", key.describe()),
                );
                ok = false;
                continue;
            };
            let Some(name) = SIMULATE_FIELDS.iter().copied().find(|n| *n == written) else {
                self.problem(
                    key,
                    ProblemKind::UnknownField {
                        field: written.to_owned(),
                        context: "simulate block",
                        suggestion: closest(written, SIMULATE_FIELDS),
                        expected: SIMULATE_FIELDS,
                    },
                );
                ok = false;
                continue;
            };
            let field = Field { name, key, value };
            match name {
                "fault" => sim.fault = self.string_list(&field),
                "latency" => sim.latency = self.plain_string(&field),
                "jitter" => sim.jitter = self.plain_string(&field),
                "banner_delay" => sim.banner_delay = self.plain_string(&field),
                "running_config_bytes" => match value.typed() {
                    Some((Typed::Int(i), _)) if u64::try_from(i).is_ok() => {
                        sim.running_config_bytes = u64::try_from(i).ok();
                    }
                    _ => {
                        let shown = value.text().unwrap_or_else(|| value.describe());
                        self.invalid(&field, format!("`{shown}` is not a number of bytes"));
                        ok = false;
                    }
                },
                "privilege15" => match value.typed() {
                    Some((Typed::Bool(b), _)) => sim.privilege15 = Some(b),
                    _ => {
                        self.problem(
                            value,
                            ProblemKind::WrongType {
                                field: name.into(),
                                expected: "true or false",
                                found: value.describe(),
                            },
                        );
                        ok = false;
                    }
                },
                _ => unreachable!("every SIMULATE_FIELDS name is matched"),
            }
        }
        ok.then_some(sim)
    }

    /// Gives every device its name and reports duplicates. A name defaults to the host, or to
    /// `host:port` when several entries share the host (simulated fleets on one address).
    pub fn settle_names(&mut self, partials: Partials) -> Vec<InventoryDevice> {
        let Partials {
            mut devices,
            explicit_names,
        } = partials;
        let mut per_host: HashMap<&str, usize> = HashMap::new();
        for d in &devices {
            *per_host.entry(d.target.host.as_str()).or_default() += 1;
        }
        let shared: HashSet<String> = per_host
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(h, _)| h.to_owned())
            .collect();
        // Every name first; duplicates are then found by borrowing them, without a copy of
        // each name and location in the lookup table.
        let names: Vec<(String, Position, bool)> = devices
            .iter()
            .zip(explicit_names)
            .map(|(device, explicit)| match explicit {
                Some((name, at)) => (name, at, false),
                None => {
                    let t = &device.target;
                    let name = if !shared.contains(&t.host) {
                        t.host.clone()
                    } else {
                        t.address()
                    };
                    (name, (device.location.line, device.location.column), true)
                }
            })
            .collect();
        drop(shared);
        let mut keep = Vec::with_capacity(names.len());
        let mut seen: HashMap<&str, Position> = HashMap::with_capacity(names.len());
        for (name, at, defaulted) in &names {
            if let Some(&first) = seen.get(name.as_str()) {
                let problem = Problem {
                    location: self.location_at(*at),
                    kind: ProblemKind::DuplicateName {
                        name: name.clone(),
                        first: self.location_at(first),
                        defaulted: *defaulted,
                    },
                };
                self.problems.push(problem);
                keep.push(false);
                continue;
            }
            seen.insert(name, *at);
            keep.push(true);
        }
        drop(seen);
        for (device, (name, _, _)) in devices.iter_mut().zip(names) {
            device.target.name = name;
        }
        let mut keep = keep.into_iter();
        devices.retain(|_| keep.next().unwrap_or(false));
        devices
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

fn read_secret_file(path: &Path, field: &'static str) -> Result<String, ProblemKind> {
    let unreadable = |reason: String| ProblemKind::SecretFileUnreadable {
        field,
        path: path.to_path_buf(),
        reason,
    };
    let bytes = fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable("not valid UTF-8".into()))?;
    // Files written by `echo` end with a newline that is not part of the credential.
    let value = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(ProblemKind::SecretFileEmpty {
            field,
            path: path.to_path_buf(),
        });
    }
    Ok(value.to_owned())
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The known name nearest to a misspelling, if it is near enough to be a typo.
fn closest(written: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (edit_distance(written, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_strangers_do_not() {
        assert_eq!(closest("pasword", ENTRY_FIELDS), Some("password"));
        assert_eq!(closest("devcie_type", ENTRY_FIELDS), Some("device_type"));
        assert_eq!(closest("hots", ENTRY_FIELDS), Some("host"));
        assert_eq!(closest("colour", ENTRY_FIELDS), None);
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("NETSWEEP_PW"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }
}
