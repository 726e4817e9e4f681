//! The file shape of platform definitions (the built-in `platforms.yaml`, a `--platforms`
//! file, an inventory's `platforms:`), and its resolution into [`PlatformSpec`]s: a `base:`
//! merged in, defaults applied, required fields and regexes checked — each problem with its
//! `file:line:column`.
//!
//! Every field is optional in the file so that `base: cisco_ios` plus a few overrides is the
//! same shape as a full definition. For optional sections, a field written as `null` removes
//! what the base had (`enable: null`); a field left out keeps it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, de::value::MapAccessDeserializer};
use serde_saphyr::Spanned;

use crate::error::{Location, PlatformError, Problem};
use crate::spec::{
    Alias, Channel, Commit, ConfigMode, Confirm, Detect, Enable, Pager, PlatformSpec, Prompts,
    Save, ShellEscape, Transport,
};

/// A spanned string: its value and where it is written.
type Text = Spanned<String>;

/// One platform as written in a file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformDef {
    name: Text,
    base: Option<Text>,
    description: Option<String>,
    aliases: Option<Vec<AliasDef>>,
    #[serde(default, deserialize_with = "present")]
    ntc_platform: Option<Option<String>>,
    channel: Option<Channel>,
    auth_methods: Option<Vec<Text>>,
    line_ending: Option<String>,
    #[serde(default, deserialize_with = "present")]
    username_suffix: Option<Option<String>>,
    prompts: Option<PromptsDef>,
    #[serde(default, deserialize_with = "present")]
    shell: Option<Option<ShellDef>>,
    #[serde(default, deserialize_with = "present")]
    enable: Option<Option<EnableDef>>,
    setup: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pager: Option<Option<PagerDef>>,
    errors: Option<Vec<Text>>,
    exit: Option<String>,
    strip_ansi: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    config: Option<Option<ConfigDef>>,
    /// `null` as a command removes the base's mapping.
    commands: Option<BTreeMap<String, Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    detect: Option<Option<DetectDef>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptsDef {
    #[serde(default, deserialize_with = "present")]
    user: Option<Option<Text>>,
    #[serde(default, deserialize_with = "present")]
    privileged: Option<Option<Text>>,
    #[serde(default, deserialize_with = "present")]
    config: Option<Option<Text>>,
    #[serde(default, deserialize_with = "present")]
    context: Option<Option<Text>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShellDef {
    prompt: Option<Text>,
    command: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnableDef {
    command: Option<String>,
    password_prompt: Option<Text>,
    denied: Option<Vec<Text>>,
    then: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PagerDef {
    prompt: Option<Text>,
    answer: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDef {
    enter: Option<String>,
    exit: Option<String>,
    #[serde(default, deserialize_with = "present")]
    commit: Option<Option<CommitDef>>,
    #[serde(default, deserialize_with = "present")]
    save: Option<Option<SaveDef>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitDef {
    command: String,
    abort: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveDef {
    command: String,
    confirm: Option<ConfirmDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmDef {
    prompt: Text,
    answer: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectDef {
    #[serde(default, deserialize_with = "present")]
    ident: Option<Option<Text>>,
    #[serde(default, deserialize_with = "present")]
    command: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    output: Option<Option<Text>>,
}

/// An alias: `cisco_xe`, or `{name: cisco_ios_telnet, transport: telnet, port: 23}`.
#[derive(Debug)]
struct AliasDef(Alias);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasFull {
    name: String,
    #[serde(default)]
    transport: Transport,
    port: Option<u16>,
}

impl<'de> Deserialize<'de> for AliasDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AliasVisitor;
        impl<'de> Visitor<'de> for AliasVisitor {
            type Value = AliasDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a device_type name, or a mapping with name, transport and port")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<AliasDef, E> {
                Ok(AliasDef(Alias {
                    name: name.to_owned(),
                    transport: Transport::Ssh,
                    port: None,
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AliasDef, A::Error> {
                let full = AliasFull::deserialize(MapAccessDeserializer::new(map))?;
                Ok(AliasDef(Alias {
                    name: full.name,
                    transport: full.transport,
                    port: full.port,
                }))
            }
        }
        d.deserialize_any(AliasVisitor)
    }
}

/// `Some(value)` for a field that is written (`Some(None)` for an explicit `null`), so that
/// a left-out field (`None`, through `#[serde(default)]`) can keep the base's value.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Parses a list of platform definitions (the top level of a platforms file).
pub(crate) fn parse_list(text: &str, file: &Path) -> Result<Vec<PlatformDef>, PlatformError> {
    serde_saphyr::from_str::<Option<Vec<PlatformDef>>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| syntax_error(e, file))
}

/// Parses the `platforms:` list of a YAML mapping and ignores every other key (an
/// inventory's `platforms:` beside `defaults:` and the groups). A document that is not a
/// mapping, or has no such key, has no definitions.
pub(crate) fn parse_platforms_key(
    text: &str,
    file: &Path,
) -> Result<Vec<PlatformDef>, PlatformError> {
    serde_saphyr::from_str::<PlatformsKey>(text)
        .map(|p| p.0)
        .map_err(|e| syntax_error(e, file))
}

/// The definitions under a document's `platforms:` key; nothing else of it is kept.
struct PlatformsKey(Vec<PlatformDef>);

impl<'de> Deserialize<'de> for PlatformsKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PlatformsKeyVisitor)
    }
}

struct PlatformsKeyVisitor;

impl<'de> Visitor<'de> for PlatformsKeyVisitor {
    type Value = PlatformsKey;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an inventory")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PlatformsKey, A::Error> {
        let mut found = Vec::new();
        while let Some(key) = map.next_key::<KeyIsPlatforms>()? {
            if key.0 {
                found = map
                    .next_value::<Option<Vec<PlatformDef>>>()?
                    .unwrap_or_default();
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(PlatformsKey(found))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<PlatformsKey, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(PlatformsKey(Vec::new()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<PlatformsKey, E> {
        Ok(PlatformsKey(Vec::new()))
    }
    fn visit_none<E: de::Error>(self) -> Result<PlatformsKey, E> {
        Ok(PlatformsKey(Vec::new()))
    }
}

/// Whether a mapping key is `platforms` (any other key, of any type, is not).
struct KeyIsPlatforms(bool);

impl<'de> Deserialize<'de> for KeyIsPlatforms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyIsPlatforms;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyIsPlatforms, E> {
                Ok(KeyIsPlatforms(v == "platforms"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<KeyIsPlatforms, E> {
                Ok(KeyIsPlatforms(false))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeyIsPlatforms, E> {
                Ok(KeyIsPlatforms(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeyIsPlatforms, E> {
                Ok(KeyIsPlatforms(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyIsPlatforms, E> {
                Ok(KeyIsPlatforms(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyIsPlatforms, E> {
                Ok(KeyIsPlatforms(false))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

pub(crate) fn syntax_error(e: serde_saphyr::Error, file: &Path) -> PlatformError {
    use serde_saphyr::MessageFormatter;
    let inner = e.without_snippet();
    let location = inner.location().map(|l| Location {
        file: file.to_path_buf(),
        line: l.line().max(1),
        column: l.column().max(1),
    });
    PlatformError::Invalid {
        problems: vec![Problem {
            location,
            message: serde_saphyr::DefaultMessageFormatter
                .format_message(inner)
                .to_string(),
        }],
    }
}

/// Collects problems while resolving one definition.
pub(crate) struct Resolver<'a> {
    pub(crate) file: &'a Path,
    pub(crate) problems: Vec<Problem>,
}

impl Resolver<'_> {
    fn at(&self, span: &serde_saphyr::Location) -> Option<Location> {
        (span.line() > 0).then(|| Location {
            file: self.file.to_path_buf(),
            line: span.line(),
            column: span.column().max(1),
        })
    }

    fn problem(&mut self, span: &serde_saphyr::Location, message: String) {
        let location = self.at(span);
        self.problems.push(Problem { location, message });
    }

    /// Checks a regex now, so that its error names the line it is written on.
    fn regex(&mut self, platform: &str, field: &str, text: &Text) -> String {
        if let Err(e) = crate::regexes::build(&text.value) {
            let detail = regex_error_detail(&e);
            self.problem(
                &text.referenced,
                format!(
                    "platform {platform}: {field}: bad regex {:?}: {detail}",
                    text.value
                ),
            );
        }
        text.value.clone()
    }

    fn regexes(&mut self, platform: &str, field: &str, texts: &[Text]) -> Vec<String> {
        texts
            .iter()
            .map(|t| self.regex(platform, field, t))
            .collect()
    }

    /// Resolves `def` on top of `base` (the platform named by `base:`, already resolved).
    pub(crate) fn resolve(
        &mut self,
        def: PlatformDef,
        base: Option<&PlatformSpec>,
    ) -> PlatformSpec {
        let name = def.name.value.clone();
        let here = def.name.referenced;
        if !valid_name(&name) {
            self.problem(
                &here,
                format!(
                    "platform name {name:?} must be lowercase letters, digits and `_`, starting \
                     with a letter"
                ),
            );
        }
        let p = name.as_str();
        let channel = match (def.channel, base) {
            (Some(c), _) => c,
            (None, Some(b)) => b.channel,
            (None, None) => {
                self.problem(
                    &here,
                    format!("platform {p}: `channel` is required (shell or exec)"),
                );
                Channel::Shell
            }
        };
        let prompts = self.prompts(p, def.prompts, base.map(|b| &b.prompts));
        let shell = merge_section(def.shell, base.and_then(|b| b.shell.clone()), |d, b| {
            let prompt = match (d.prompt, b.as_ref()) {
                (Some(t), _) => Some(self.regex(p, "shell.prompt", &t)),
                (None, Some(b)) => Some(b.prompt.clone()),
                (None, None) => None,
            };
            let command = d.command.or_else(|| b.as_ref().map(|b| b.command.clone()));
            match (prompt, command) {
                (Some(prompt), Some(command)) => Some(ShellEscape { prompt, command }),
                _ => {
                    self.problem(
                        &here,
                        format!("platform {p}: `shell` needs `prompt` and `command`"),
                    );
                    None
                }
            }
        });
        let enable = merge_section(def.enable, base.and_then(|b| b.enable.clone()), |d, b| {
            let command = d.command.or_else(|| b.as_ref().map(|b| b.command.clone()));
            let password_prompt = match (d.password_prompt, b.as_ref()) {
                (Some(t), _) => Some(self.regex(p, "enable.password_prompt", &t)),
                (None, Some(b)) => Some(b.password_prompt.clone()),
                (None, None) => None,
            };
            let denied = match (d.denied, b.as_ref()) {
                (Some(ts), _) => self.regexes(p, "enable.denied", &ts),
                (None, Some(b)) => b.denied.clone(),
                (None, None) => Vec::new(),
            };
            let then = d
                .then
                .or_else(|| b.as_ref().map(|b| b.then.clone()))
                .unwrap_or_default();
            match (command, password_prompt) {
                (Some(command), Some(password_prompt)) => Some(Enable {
                    command,
                    password_prompt,
                    denied,
                    then,
                }),
                _ => {
                    self.problem(
                        &here,
                        format!("platform {p}: `enable` needs `command` and `password_prompt`"),
                    );
                    None
                }
            }
        });
        let pager = merge_section(def.pager, base.and_then(|b| b.pager.clone()), |d, b| {
            let prompt = match (d.prompt, b.as_ref()) {
                (Some(t), _) => Some(self.regex(p, "pager.prompt", &t)),
                (None, Some(b)) => Some(b.prompt.clone()),
                (None, None) => None,
            };
            let answer = d
                .answer
                .or_else(|| b.as_ref().map(|b| b.answer.clone()))
                .unwrap_or_else(|| " ".to_owned());
            match prompt {
                Some(prompt) => Some(Pager { prompt, answer }),
                None => {
                    self.problem(&here, format!("platform {p}: `pager` needs `prompt`"));
                    None
                }
            }
        });
        let config = merge_section(def.config, base.and_then(|b| b.config.clone()), |d, b| {
            let enter = d.enter.or_else(|| b.as_ref().map(|b| b.enter.clone()));
            let exit = d.exit.or_else(|| b.as_ref().map(|b| b.exit.clone()));
            let commit = merge_section(
                d.commit,
                b.as_ref().and_then(|b| b.commit.clone()),
                |c, _| {
                    Some(Commit {
                        command: c.command,
                        abort: c.abort,
                    })
                },
            );
            let save = merge_section(d.save, b.as_ref().and_then(|b| b.save.clone()), |s, _| {
                Some(Save {
                    command: s.command,
                    confirm: s.confirm.map(|c| Confirm {
                        prompt: self.regex(p, "config.save.confirm.prompt", &c.prompt),
                        answer: c.answer,
                    }),
                })
            });
            match (enter, exit) {
                (Some(enter), Some(exit)) => Some(ConfigMode {
                    enter,
                    exit,
                    commit,
                    save,
                }),
                _ => {
                    self.problem(
                        &here,
                        format!("platform {p}: `config` needs `enter` and `exit`"),
                    );
                    None
                }
            }
        });
        let detect = merge_section(def.detect, base.and_then(|b| b.detect.clone()), |d, b| {
            let b = b.unwrap_or_default();
            Some(Detect {
                ident: match d.ident {
                    Some(t) => t.map(|t| self.regex(p, "detect.ident", &t)),
                    None => b.ident,
                },
                command: d.command.unwrap_or(b.command),
                output: match d.output {
                    Some(t) => t.map(|t| self.regex(p, "detect.output", &t)),
                    None => b.output,
                },
            })
        });
        let errors = match (def.errors, base) {
            (Some(ts), _) => self.regexes(p, "errors", &ts),
            (None, Some(b)) => b.errors.clone(),
            (None, None) => Vec::new(),
        };
        let auth_methods = match (def.auth_methods, base) {
            (Some(ts), _) => {
                for t in &ts {
                    if !["password", "keyboard-interactive"].contains(&t.value.as_str()) {
                        self.problem(
                            &t.referenced,
                            format!(
                                "platform {p}: auth_methods: unknown method {:?} (password, \
                                 keyboard-interactive)",
                                t.value
                            ),
                        );
                    }
                }
                ts.into_iter().map(|t| t.value).collect()
            }
            (None, Some(b)) => b.auth_methods.clone(),
            (None, None) => vec!["password".to_owned(), "keyboard-interactive".to_owned()],
        };
        let mut commands = base.map(|b| b.commands.clone()).unwrap_or_default();
        for (key, command) in def.commands.unwrap_or_default() {
            match command {
                Some(c) => commands.insert(key, c),
                None => commands.remove(&key),
            };
        }
        let spec = PlatformSpec {
            description: def
                .description
                .or_else(|| base.map(|b| format!("{} (based on {})", name, b.name)))
                .unwrap_or_else(|| format!("{name} (user-defined)")),
            aliases: match def.aliases {
                Some(list) => list.into_iter().map(|a| a.0).collect(),
                // A base's aliases name the base, not the new platform.
                None => Vec::new(),
            },
            ntc_platform: take_or(def.ntc_platform, base.and_then(|b| b.ntc_platform.clone())),
            base: base.map(|b| b.name.clone()),
            channel,
            auth_methods,
            line_ending: def
                .line_ending
                .or_else(|| base.map(|b| b.line_ending.clone()))
                .unwrap_or_else(|| "\n".to_owned()),
            username_suffix: take_or(
                def.username_suffix,
                base.and_then(|b| b.username_suffix.clone()),
            ),
            prompts,
            shell,
            enable,
            setup: def
                .setup
                .or_else(|| base.map(|b| b.setup.clone()))
                .unwrap_or_default(),
            pager,
            errors,
            exit: def
                .exit
                .or_else(|| base.map(|b| b.exit.clone()))
                .unwrap_or_else(|| "exit".to_owned()),
            strip_ansi: def
                .strip_ansi
                .or_else(|| base.map(|b| b.strip_ansi))
                .unwrap_or(false),
            config,
            commands,
            detect,
            name,
        };
        self.check_consistency(&spec, &here);
        spec
    }

    fn prompts(&mut self, p: &str, def: Option<PromptsDef>, base: Option<&Prompts>) -> Prompts {
        let def = def.unwrap_or_default();
        let base = base.cloned().unwrap_or_default();
        let mut one =
            |field: Option<Option<Text>>, inherited: Option<String>, name: &str| match field {
                Some(Some(t)) => Some(self.regex(p, &format!("prompts.{name}"), &t)),
                Some(None) => None,
                None => inherited,
            };
        Prompts {
            user: one(def.user, base.user, "user"),
            privileged: one(def.privileged, base.privileged, "privileged"),
            config: one(def.config, base.config, "config"),
            context: one(def.context, base.context, "context"),
        }
    }

    fn check_consistency(&mut self, spec: &PlatformSpec, here: &serde_saphyr::Location) {
        let p = &spec.name;
        if spec.channel == Channel::Shell
            && spec.prompts.user.is_none()
            && spec.prompts.privileged.is_none()
        {
            self.problem(
                here,
                format!(
                    "platform {p}: a shell platform needs `prompts.user` or `prompts.privileged`"
                ),
            );
        }
        if spec.enable.is_some()
            && (spec.prompts.user.is_none() || spec.prompts.privileged.is_none())
        {
            self.problem(
                here,
                format!(
                    "platform {p}: `enable` needs both `prompts.user` and `prompts.privileged`"
                ),
            );
        }
        if !matches!(spec.line_ending.as_str(), "\n" | "\r\n" | "\r") {
            self.problem(
                here,
                format!("platform {p}: line_ending must be \"\\n\", \"\\r\\n\" or \"\\r\""),
            );
        }
        for alias in &spec.aliases {
            if !valid_name(&alias.name) {
                self.problem(
                    here,
                    format!(
                        "platform {p}: alias {:?} is not a valid device_type name",
                        alias.name
                    ),
                );
            }
        }
        for name in spec.commands.keys() {
            if !valid_command_name(name) {
                self.problem(
                    here,
                    format!(
                        "platform {p}: command name {name:?} must be lowercase letters, digits, \
                         `-` and `_`"
                    ),
                );
            }
        }
    }

    /// The location of a definition's `name:`, for problems about the definition as a whole.
    pub(crate) fn name_location(&self, def: &PlatformDef) -> Option<Location> {
        self.at(&def.name.referenced)
    }
}

impl PlatformDef {
    /// The definition's name as written.
    pub(crate) fn name(&self) -> &str {
        &self.name.value
    }

    /// The `base:` it names, with the location of that field.
    pub(crate) fn base(&self) -> Option<(&str, &serde_saphyr::Location)> {
        self.base
            .as_ref()
            .map(|b| (b.value.as_str(), &b.referenced))
    }
}

impl Resolver<'_> {
    /// A problem at a span of a definition (used by the table for clashes and unknown bases).
    pub(crate) fn problem_at(&mut self, span: &serde_saphyr::Location, message: String) {
        self.problem(span, message);
    }
}

/// An optional section: left out keeps the base's, `null` removes it, written merges over
/// the base's (`build` gets the written part and the base's, and may refuse with `None`).
fn merge_section<D, T>(
    written: Option<Option<D>>,
    inherited: Option<T>,
    build: impl FnOnce(D, Option<T>) -> Option<T>,
) -> Option<T> {
    match written {
        None => inherited,
        Some(None) => None,
        Some(Some(d)) => build(d, inherited),
    }
}

fn take_or<T>(written: Option<Option<T>>, inherited: Option<T>) -> Option<T> {
    match written {
        None => inherited,
        Some(value) => value,
    }
}

/// The reason in a regex error, without the pattern and caret it prints above it:
/// `unclosed group`.
pub(crate) fn regex_error_detail(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(
            || text.split_whitespace().collect::<Vec<_>>().join(" "),
            str::to_owned,
        )
}

/// `cisco_ios`, `my_os2`: what a `device_type` may be called.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `version`, `running-config`: what a named command may be called.
pub(crate) fn valid_command_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}
