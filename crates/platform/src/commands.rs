//! Named commands: `-c @version` is `show version` on IOS, `display version` on Huawei and
//! `/system resource print` on RouterOS. The platform table holds the built-in names
//! (`version`, `interfaces`, `running-config`, `clock`); a `--commands FILE` adds a user's own
//! or overrides them:
//!
//! ```yaml
//! bgp:                              # -c @bgp
//!   default: show ip bgp summary    # any platform not listed below
//!   juniper_junos: show bgp summary # by canonical name or alias
//!   huawei: display bgp peer
//! ```
//!
//! Resolution is per device, before it is contacted: a platform with no command for a name
//! fails that device alone.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::def::valid_command_name;
use crate::error::{Location, PlatformError, Problem};
use crate::spec::PlatformSpec;
use crate::table::PlatformTable;

/// How a command is written on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandRef<'a> {
    /// Sent as written.
    Literal(&'a str),
    /// `@name`: each platform's own command for `name`.
    Named(&'a str),
}

/// `@version` is named; `show version` is literal; `@@x` is the literal `@x`.
pub fn command_ref(written: &str) -> CommandRef<'_> {
    match written.strip_prefix('@') {
        Some(rest) if rest.starts_with('@') => CommandRef::Literal(rest),
        Some(name) => CommandRef::Named(name),
        None => CommandRef::Literal(written),
    }
}

/// A user's named commands (`--commands FILE`), on top of the table's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandBook {
    named: BTreeMap<String, UserCommand>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct UserCommand {
    default: Option<String>,
    /// By canonical platform name.
    per_platform: BTreeMap<String, String>,
}

/// An ordered mapping whose keys keep their position in the file.
struct SpannedMap<V>(Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for SpannedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = SpannedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value::<V>()?));
                }
                Ok(SpannedMap(entries))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(SpannedMap(Vec::new()))
            }
        }
        d.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

impl CommandBook {
    /// Reads a `--commands` file; platform names are checked against `table`.
    pub fn load(path: &Path, table: &PlatformTable) -> Result<CommandBook, PlatformError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlatformError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        CommandBook::parse(&text, path, table)
    }

    /// Parses named commands from `text`; `file` names it in messages.
    pub fn parse(
        text: &str,
        file: &Path,
        table: &PlatformTable,
    ) -> Result<CommandBook, PlatformError> {
        let raw: Option<SpannedMap<SpannedMap<String>>> =
            serde_saphyr::from_str(text).map_err(|e| crate::def::syntax_error(e, file))?;
        let mut problems = Vec::new();
        let at = |s: &Spanned<String>| Location {
            file: file.to_path_buf(),
            line: s.referenced.line().max(1),
            column: s.referenced.column().max(1),
        };
        let mut book = CommandBook::default();
        for (name, entries) in raw.map(|r| r.0).unwrap_or_default() {
            if !valid_command_name(&name.value) {
                problems.push(Problem {
                    location: Some(at(&name)),
                    message: format!(
                        "command name {:?} must be lowercase letters, digits, `-` and `_` (used as @{0})",
                        name.value
                    ),
                });
                continue;
            }
            let mut command = UserCommand::default();
            for (key, text) in entries.0 {
                if key.value == "default" {
                    command.default = Some(text);
                    continue;
                }
                match table.resolve(&key.value) {
                    Some(t) => {
                        command
                            .per_platform
                            .insert(t.platform.name().to_owned(), text);
                    }
                    None => problems.push(Problem {
                        location: Some(at(&key)),
                        message: format!(
                            "command @{}: unknown platform {:?} (`default`, or one of: {})",
                            name.value,
                            key.value,
                            table.device_type_names().join(", ")
                        ),
                    }),
                }
            }
            book.named.insert(name.value, command);
        }
        if problems.is_empty() {
            Ok(book)
        } else {
            Err(PlatformError::Invalid { problems })
        }
    }

    /// A book from entries already checked elsewhere (a job's: the coordinator checked the
    /// file): (name, default, per canonical platform).
    pub fn from_entries(
        entries: impl IntoIterator<Item = (String, Option<String>, BTreeMap<String, String>)>,
    ) -> CommandBook {
        CommandBook {
            named: entries
                .into_iter()
                .map(|(name, default, per_platform)| {
                    (
                        name,
                        UserCommand {
                            default,
                            per_platform,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Every entry: (name, default, per canonical platform), to carry them to workers.
    pub fn entries(&self) -> impl Iterator<Item = (&str, Option<&str>, &BTreeMap<String, String>)> {
        self.named
            .iter()
            .map(|(n, u)| (n.as_str(), u.default.as_deref(), &u.per_platform))
    }

    /// Whether `name` means anything: in this book, or in some platform of `table`.
    pub fn knows(&self, name: &str, table: &PlatformTable) -> bool {
        self.named.contains_key(name)
            || table
                .platforms()
                .iter()
                .any(|p| p.spec().commands.contains_key(name))
    }

    /// The command `platform` runs for `name`: the user's own for that platform, the user's
    /// default, then the platform table's.
    pub fn lookup<'s>(&'s self, name: &str, platform: &'s PlatformSpec) -> Option<&'s str> {
        let user = self.named.get(name);
        user.and_then(|u| u.per_platform.get(&platform.name))
            .or_else(|| user.and_then(|u| u.default.as_ref()))
            .or_else(|| platform.commands.get(name))
            .map(String::as_str)
    }

    /// Every name this book defines.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named.keys().map(String::as_str)
    }
}

/// A command as it will be sent to one device: what was written and what is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedCommand {
    /// `Some("version")` for `@version`.
    pub name: Option<String>,
    /// What the device is sent.
    pub command: String,
}

/// Why a device cannot run a sweep's commands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("platform {platform} has no command for @{name}")]
pub struct Unmapped {
    /// The platform.
    pub platform: String,
    /// The named command.
    pub name: String,
}

impl CommandBook {
    /// Resolves every command of a sweep for one platform.
    pub fn resolve_all(
        &self,
        written: &[String],
        platform: &PlatformSpec,
    ) -> Result<Vec<ResolvedCommand>, Unmapped> {
        written
            .iter()
            .map(|w| match command_ref(w) {
                CommandRef::Literal(command) => Ok(ResolvedCommand {
                    name: None,
                    command: command.to_owned(),
                }),
                CommandRef::Named(name) => match self.lookup(name, platform) {
                    Some(command) => Ok(ResolvedCommand {
                        name: Some(name.to_owned()),
                        command: command.to_owned(),
                    }),
                    None => Err(Unmapped {
                        platform: platform.name.clone(),
                        name: name.to_owned(),
                    }),
                },
            })
            .collect()
    }
}
