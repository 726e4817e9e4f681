//! Simulated platforms as data: one YAML model per platform (`crates/sim/models/*.yaml`,
//! embedded) says what the device sends as its SSH ident, which logins it offers, its modes
//! and prompts, how it pages, what it answers to a command it does not know, and what each of
//! its commands prints — templates filled with the device's facts.
//!
//! [`Model`] is the parsed model with its command patterns compiled per mode; the CLI engine
//! ([`crate::device_cli`]) runs any model. A new simulated platform is a new model file, one
//! line in [`MODELS`], and tests. Linux is the exception: exec channels, exit statuses and
//! stderr are code (`linux.rs`); its model gives the ident, logins and prompt.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use russh::MethodKind;
use serde::Deserialize;

use crate::template;

/// Every built-in model, by platform name. The platform table (netsweep-platform) must know
/// each name; a test checks that every table platform has a model here.
const MODELS: &[(&str, &str)] = &[
    ("cisco_ios", include_str!("../models/cisco_ios.yaml")),
    ("linux", include_str!("../models/linux.yaml")),
    ("cisco_nxos", include_str!("../models/cisco_nxos.yaml")),
    ("cisco_xr", include_str!("../models/cisco_xr.yaml")),
    ("arista_eos", include_str!("../models/arista_eos.yaml")),
    (
        "juniper_junos",
        include_str!("../models/juniper_junos.yaml"),
    ),
    ("huawei", include_str!("../models/huawei.yaml")),
    ("hp_comware", include_str!("../models/hp_comware.yaml")),
    (
        "mikrotik_routeros",
        include_str!("../models/mikrotik_routeros.yaml"),
    ),
    ("cisco_asa", include_str!("../models/cisco_asa.yaml")),
];

/// What drives the platform's conversations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// A network CLI run by the model's modes and commands.
    #[default]
    Cli,
    /// A Unix host: exec channels with exit status (`linux.rs`).
    Unix,
}

/// Which of the platform table's prompt regexes a mode's prompt must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    Shell,
    User,
    Privileged,
    Config,
}

#[cfg(test)]
impl Level {
    /// The platform table's name for the mode.
    pub(crate) fn table_mode(self) -> netsweep_platform::Mode {
        match self {
            Level::Shell => netsweep_platform::Mode::Shell,
            Level::User => netsweep_platform::Mode::User,
            Level::Privileged => netsweep_platform::Mode::Privileged,
            Level::Config => netsweep_platform::Mode::Config,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Method {
    Password,
    KeyboardInteractive,
    Publickey,
}

/// One platform's model as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelDef {
    platform: String,
    #[serde(default)]
    kind: Kind,
    ident: String,
    auth_methods: Vec<Method>,
    #[serde(default)]
    auth_banner: Option<String>,
    #[serde(default)]
    banner: String,
    #[serde(default)]
    facts: BTreeMap<String, String>,
    #[serde(default = "default_serial_prefix")]
    serial_prefix: String,
    #[serde(default)]
    colours: bool,
    #[serde(default)]
    login_options: bool,
    #[serde(default)]
    optional_prefix: Option<String>,
    login: String,
    #[serde(default)]
    login_as: BTreeMap<String, String>,
    #[serde(default)]
    privileged: Option<String>,
    modes: BTreeMap<String, ModeDef>,
    #[serde(default)]
    paging: Option<Paging>,
    #[serde(default)]
    enable: Option<EnableDef>,
    #[serde(default)]
    errors: Option<ErrorTexts>,
    #[serde(default)]
    ctrl_z: Option<String>,
    #[serde(default)]
    commands: Vec<CommandDef>,
}

fn default_serial_prefix() -> String {
    "FTX".to_owned()
}

/// A mode: its prompt (a template), which table mode it is, where `exit` goes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModeDef {
    pub prompt: String,
    pub level: Level,
    /// Where `exit` leads; none: `exit` logs out.
    #[serde(default)]
    pub parent: Option<String>,
    /// A line printed just above the prompt (Junos `{master:0}`, `[edit]`).
    #[serde(default)]
    pub above: Option<String>,
}

/// The pager: lines per page when paging is on, its prompt and the erasure that follows.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Paging {
    pub lines: usize,
    pub more: String,
    pub erase: String,
}

/// Privileged mode behind a password.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnableDef {
    /// The question (`Password: `).
    pub prompt: String,
    /// The mode a right secret leads to.
    pub to: String,
    /// Printed for a wrong secret.
    pub denied: String,
}

/// What the platform prints for a line it cannot run (templates with `{{caret}}`, `{{line}}`,
/// `{{word}}`, `{{column1}}`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorTexts {
    pub invalid: String,
    pub incomplete: String,
    pub ambiguous: String,
}

/// One command: its pattern, where it works, what it does and prints.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandDef {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default, rename = "in")]
    modes: Option<Vec<String>>,
    #[serde(default, rename = "do")]
    action: Option<Action>,
    #[serde(default)]
    say: Option<String>,
    #[serde(default)]
    show: Option<String>,
    #[serde(default)]
    pad: Option<String>,
}

/// What a command does besides printing (`do:`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum Action {
    /// `enable`, `exit`, `page-length`…
    Simple(Simple),
    /// `{mode: config}`: change mode.
    Mode { mode: String },
    /// Ask a yes/no question, then print one of two texts. Not `yes:`/`no:`: YAML 1.1
    /// readers take those keys for booleans.
    Confirm {
        confirm: String,
        accepted: String,
        declined: String,
    },
}

/// The actions that take no parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Simple {
    /// Ask for the enable secret.
    Enable,
    /// Leave the mode for its parent, or log out from a top mode.
    Exit,
    /// Log out.
    Logout,
    /// Lines per page from the command's number (0: paging off).
    PageLength,
    /// Paging off.
    PagingOff,
    /// The hostname from the command's argument.
    Hostname,
    /// Run the rest of the line in the privileged mode (`do show …` in IOS configuration).
    Do,
}

/// A pattern word: a keyword (matched by unambiguous prefix) or an argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Word {
    Key(String),
    /// `<arg>`: one word.
    Arg,
    /// `<num>`: a number.
    Num,
    /// `<rest>`: the rest of the line, possibly empty.
    Rest,
}

/// A command, compiled.
#[derive(Clone, Debug)]
pub(crate) struct Command {
    pub words: Vec<Word>,
    pub action: Option<Action>,
    pub say: Option<String>,
    pub show: Option<String>,
    /// A block repeated in place of `{{pad}}` until the output reaches the device's
    /// running-configuration size.
    pub pad: Option<String>,
}

/// A parsed, checked model.
#[derive(Debug)]
pub(crate) struct Model {
    pub platform: &'static str,
    pub kind: Kind,
    pub ident: String,
    auth_methods: Vec<Method>,
    pub auth_banner: Option<String>,
    pub banner: String,
    pub facts: BTreeMap<String, String>,
    pub serial_prefix: String,
    pub colours: bool,
    pub login_options: bool,
    /// A prefix a command may start with or not (RouterOS' `/`).
    pub optional_prefix: Option<String>,
    pub login: String,
    pub login_as: BTreeMap<String, String>,
    pub privileged: Option<String>,
    pub modes: BTreeMap<String, ModeDef>,
    pub paging: Option<Paging>,
    pub enable: Option<EnableDef>,
    pub errors: ErrorTexts,
    pub ctrl_z: Option<String>,
    pub commands: Vec<Command>,
    /// Per mode, the indexes into `commands` available there.
    pub tables: BTreeMap<String, Vec<usize>>,
}

fn parse_pattern(pattern: &str) -> Vec<Word> {
    pattern
        .split_whitespace()
        .map(|w| match w {
            "<arg>" => Word::Arg,
            "<num>" => Word::Num,
            "<rest>" => Word::Rest,
            k => Word::Key(k.to_ascii_lowercase()),
        })
        .collect()
}

impl Model {
    fn from_def(platform: &'static str, def: ModelDef) -> Result<Model, String> {
        let problem = |m: String| format!("model {platform}: {m}");
        if def.platform != platform {
            return Err(problem(format!("names platform {:?}", def.platform)));
        }
        let mut commands = Vec::new();
        let mut tables: BTreeMap<String, Vec<usize>> =
            def.modes.keys().map(|m| (m.clone(), Vec::new())).collect();
        for c in def.commands {
            let words = parse_pattern(&c.pattern);
            if words.is_empty() {
                return Err(problem("a command has an empty `match`".into()));
            }
            // By default a command works in every user and privileged mode.
            let modes: Vec<String> = match c.modes {
                Some(m) => m,
                None => def
                    .modes
                    .iter()
                    .filter(|(_, m)| matches!(m.level, Level::User | Level::Privileged))
                    .map(|(name, _)| name.clone())
                    .collect(),
            };
            let index = commands.len();
            for mode in &modes {
                tables
                    .get_mut(mode)
                    .ok_or_else(|| problem(format!("{:?}: unknown mode {mode:?}", c.pattern)))?
                    .push(index);
            }
            commands.push(Command {
                words,
                action: c.action,
                say: c.say,
                show: c.show,
                pad: c.pad,
            });
        }
        let errors = match (def.kind, def.errors) {
            (_, Some(e)) => e,
            (Kind::Unix, None) => ErrorTexts {
                invalid: String::new(),
                incomplete: String::new(),
                ambiguous: String::new(),
            },
            (Kind::Cli, None) => return Err(problem("`errors` is required".into())),
        };
        let model = Model {
            platform,
            kind: def.kind,
            ident: def.ident,
            auth_methods: def.auth_methods,
            auth_banner: def.auth_banner,
            banner: def.banner,
            facts: def.facts,
            serial_prefix: def.serial_prefix,
            colours: def.colours,
            login_options: def.login_options,
            optional_prefix: def.optional_prefix,
            login: def.login,
            login_as: def.login_as,
            privileged: def.privileged,
            modes: def.modes,
            paging: def.paging,
            enable: def.enable,
            errors,
            ctrl_z: def.ctrl_z,
            commands,
            tables,
        };
        model.check().map_err(problem)?;
        Ok(model)
    }

    /// Every mode a model names exists; every template uses known variables.
    fn check(&self) -> Result<(), String> {
        let mode_exists = |m: &str| self.modes.contains_key(m);
        let mut named: Vec<&str> = vec![&self.login];
        named.extend(self.login_as.values().map(String::as_str));
        named.extend(self.privileged.as_deref());
        named.extend(self.ctrl_z.as_deref());
        named.extend(self.enable.as_ref().map(|e| e.to.as_str()));
        named.extend(self.modes.values().filter_map(|m| m.parent.as_deref()));
        named.extend(self.commands.iter().filter_map(|c| match &c.action {
            Some(Action::Mode { mode }) => Some(mode.as_str()),
            _ => None,
        }));
        if let Some(missing) = named.into_iter().find(|m| !mode_exists(m)) {
            return Err(format!("unknown mode {missing:?}"));
        }
        if !self.ident.starts_with("SSH-2.0-") {
            return Err(format!("ident {:?} must start with SSH-2.0-", self.ident));
        }
        let known = |extra: &'static [&'static str]| {
            move |name: &str| {
                crate::facts::is_fact(name)
                    || self.facts.contains_key(name)
                    || extra.contains(&name)
            }
        };
        let mut templates: Vec<(&str, &[&str])> = vec![(&self.banner, &[])];
        const ERROR_VARS: &[&str] = &["caret", "line", "word", "column1"];
        const ARG: &[&str] = &["arg"];
        templates.extend([
            (self.errors.invalid.as_str(), ERROR_VARS),
            (self.errors.incomplete.as_str(), ERROR_VARS),
            (self.errors.ambiguous.as_str(), ERROR_VARS),
        ]);
        for m in self.modes.values() {
            templates.push((&m.prompt, &[]));
            templates.extend(m.above.as_deref().map(|a| (a, &[][..])));
        }
        for c in &self.commands {
            const SHOW_VARS: &[&str] = &["pad", "size", "arg", "changes"];
            const PAD_VARS: &[&str] = &["n", "vlan"];
            templates.extend(c.say.as_deref().map(|t| (t, ARG)));
            templates.extend(c.show.as_deref().map(|t| (t, SHOW_VARS)));
            templates.extend(c.pad.as_deref().map(|t| (t, PAD_VARS)));
            if let Some(Action::Confirm {
                confirm,
                accepted,
                declined,
            }) = &c.action
            {
                templates.extend([
                    (confirm.as_str(), &[][..]),
                    (accepted, &[]),
                    (declined, &[]),
                ]);
            }
        }
        for (text, extra) in templates {
            if let Some(name) = template::check(text, &known(extra)).first() {
                return Err(format!(
                    "unknown template variable {{{{{name}}}}} in {text:.60?}"
                ));
            }
        }
        Ok(())
    }

    /// The SSH methods the platform offers, as the real thing does.
    pub(crate) fn methods(&self) -> Vec<MethodKind> {
        self.auth_methods
            .iter()
            .map(|m| match m {
                Method::Password => MethodKind::Password,
                Method::KeyboardInteractive => MethodKind::KeyboardInteractive,
                Method::Publickey => MethodKind::PublicKey,
            })
            .collect()
    }

    /// Whether the platform has privileged mode behind `enable` (the `enable-fail` fault
    /// applies to it).
    pub(crate) fn has_enable(&self) -> bool {
        self.enable.is_some()
    }

    /// The mode from which `enable` is typed (where an `enable-fail` device logs in).
    pub(crate) fn enable_mode(&self) -> Option<&str> {
        let enable = self
            .commands
            .iter()
            .position(|c| c.action == Some(Action::Simple(Simple::Enable)))?;
        self.tables
            .iter()
            .find(|(mode, cmds)| self.modes[*mode].level == Level::User && cmds.contains(&enable))
            .map(|(mode, _)| mode.as_str())
    }
}

/// Every built-in model, parsed once per process.
pub(crate) fn models() -> &'static [Model] {
    static MODELS_PARSED: OnceLock<Vec<Model>> = OnceLock::new();
    MODELS_PARSED.get_or_init(|| {
        MODELS
            .iter()
            .map(|(platform, text)| {
                let def: ModelDef = serde_saphyr::from_str(text)
                    .unwrap_or_else(|e| panic!("model {platform} does not parse: {e}"));
                Model::from_def(platform, def).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect()
    })
}

/// The model of a canonical platform name.
pub(crate) fn model(platform: &str) -> Option<&'static Model> {
    models().iter().find(|m| m.platform == platform)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_cli::{DeviceCli, Step};
    use crate::facts::Facts;

    fn table_platform(model: &Model) -> &'static netsweep_platform::Platform {
        netsweep_platform::builtin()
            .get(model.platform)
            .unwrap_or_else(|| panic!("{} is not in the platform table", model.platform))
    }

    #[test]
    fn every_table_platform_has_a_model_and_every_model_a_table_platform() {
        for p in netsweep_platform::builtin().platforms() {
            assert!(
                model(p.name()).is_some(),
                "{} has no simulator model",
                p.name()
            );
        }
        for m in models() {
            table_platform(m);
        }
    }

    /// A CLI in each mode of each model, with the device's facts.
    fn each_mode(mut check: impl FnMut(&'static Model, &str, &DeviceCli, &Facts)) {
        for m in models().iter().filter(|m| m.kind == Kind::Cli) {
            let facts = Facts::new(3, "dev-1", 0, 8192, &m.serial_prefix);
            for mode in m.modes.keys() {
                let cli = DeviceCli::new(m, "dev-1", "admin", mode);
                check(m, mode, &cli, &facts);
            }
        }
    }

    #[test]
    fn every_prompt_is_recognised_by_the_table_in_its_mode() {
        each_mode(|m, mode, cli, facts| {
            let regexes = table_platform(m).regexes();
            let line = cli.prompt_line(facts);
            let found = regexes
                .prompt(line.trim_end())
                .unwrap_or_else(|| panic!("{}: {mode} prompt {line:?} not recognised", m.platform));
            assert_eq!(
                found.mode,
                m.modes[mode].level.table_mode(),
                "{}: {line:?}",
                m.platform
            );
            if let Some(above) = &m.modes[mode].above {
                let above = cli.render_text(above, facts);
                assert!(
                    regexes.is_context(above.trim()),
                    "{}: {above:?}",
                    m.platform
                );
            }
        });
    }

    #[test]
    fn every_error_text_is_recognised_by_the_table() {
        each_mode(|m, mode, cli, facts| {
            let regexes = table_platform(m).regexes();
            let mut cli = DeviceCli::new(m, &cli.hostname, &cli.username, mode);
            for line in ["frobnicate now", "zzz"] {
                let Step::Print(text) = cli.execute(line, facts) else {
                    panic!("{}: {line:?} ran", m.platform);
                };
                assert!(
                    regexes.error_line(&text).is_some(),
                    "{}: {mode}: {text:?} is not an error to the table",
                    m.platform
                );
            }
        });
    }

    #[test]
    fn every_pager_is_recognised_by_the_table() {
        for m in models().iter().filter(|m| m.paging.is_some()) {
            let more = &m.paging.as_ref().unwrap().more;
            assert!(
                table_platform(m).regexes().is_pager(more),
                "{}: {more:?}",
                m.platform
            );
        }
    }

    /// Every named command of the table runs in the model's login mode (privileged where the
    /// platform has it) and prints something; with `NETSWEEP_SIM_DUMP=dir`, each output is
    /// also written to `dir/<platform>/<command>.txt`, for checking against ntc-templates.
    #[test]
    fn every_named_command_runs_and_prints() {
        let dump = std::env::var_os("NETSWEEP_SIM_DUMP").map(std::path::PathBuf::from);
        for m in models().iter().filter(|m| m.kind == Kind::Cli) {
            let facts = Facts::new(3, "dev-1", 0, 8192, &m.serial_prefix);
            let mode = m.privileged.as_deref().unwrap_or(&m.login);
            let spec = table_platform(m).spec();
            let mut extra = vec![];
            if m.platform == "hp_comware" {
                extra.push("display device manuinfo".to_owned());
            }
            if m.platform == "mikrotik_routeros" {
                extra.push("/system routerboard print".to_owned());
            }
            for command in spec.commands.values().chain(extra.iter()) {
                let mut cli = DeviceCli::new(m, "dev-1", "admin", mode);
                cli.colours = false;
                let Step::Show(text) = cli.execute(command, &facts) else {
                    panic!("{}: {command:?} did not run in {mode}", m.platform);
                };
                assert!(!text.trim().is_empty(), "{}: {command:?}", m.platform);
                assert!(!text.contains("{{"), "{}: {command:?}: {text}", m.platform);
                if let Some(dir) = &dump {
                    let dir = dir.join(m.platform);
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(dir.join(format!("{command}.txt").replace('/', "_")), &text)
                        .unwrap();
                }
            }
        }
    }
}
