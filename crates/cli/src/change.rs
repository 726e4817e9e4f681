//! `netsweep run --config`: the change's flags, its template, and each device's rendered
//! lines.
//!
//! A change file (or `--config-line`s) is a minijinja template rendered once per device, in
//! the coordinator, before any session starts, with the device's inventory fields (`name`,
//! `host`, `port`, `platform`, `username`, `groups`) and its inventory `vars:`, both as
//! `vars.NAME` and as `NAME` (the inventory refuses a var named like a field, so neither
//! hides the other; the fields would win). Undefined variables are errors
//! (strict): such a device gets `config_error` without being contacted, and the others go
//! on. Rendered lines are sent as they are; blank lines are dropped. This module does no
//! device I/O and never prints: `--dry-run`'s text is returned to the caller.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use minijinja::{Environment, UndefinedBehavior};
use netsweep_inventory::Vars;
use netsweep_protocol::{
    ChangeReport, ConfigChange, DeviceRecord, DeviceTarget, Outcome, RejectedLine,
};

/// The configuration-change flags of `netsweep run`.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Configuration changes")]
pub struct ChangeArgs {
    /// Enter configuration mode and send this file's lines: a minijinja template rendered
    /// per device with its inventory fields (`{{ name }}`, `{{ host }}`, `{{ port }}`,
    /// `{{ platform }}`, `{{ username }}`, `{{ groups }}`) and its inventory `vars:` (entry >
    /// groups > defaults), as `{{ NAME }}` or `{{ vars.NAME }}`. An undefined variable fails
    /// that device's change before it is contacted; --dry-run shows every device's lines.
    /// `-c` commands run before the change, `--after-command`s after it, in the same session.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A configuration line (a template too); repeatable; sent after --config's lines.
    #[arg(long = "config-line", value_name = "LINE")]
    pub config_lines: Vec<String>,

    /// Command to run after the change (when it was accepted); repeatable.
    #[arg(long = "after-command", value_name = "CMD")]
    pub after_commands: Vec<String>,

    /// Save the configuration after an accepted change (`write memory`, `copy
    /// running-config startup-config`, Huawei `save` answering [Y/N], Comware `save force`);
    /// platforms that commit (Junos, IOS XR) always commit instead.
    #[arg(long)]
    pub save: bool,

    /// Print every device's rendered lines and exit without connecting to anything.
    #[arg(long)]
    pub dry_run: bool,

    /// Ask the device whether it accepts the change, then discard it: on platforms that
    /// commit, the lines go into the candidate, `commit check` runs, the candidate is
    /// discarded; platforms that apply each line at once are not sent anything (the record
    /// says "not checked").
    #[arg(long, conflicts_with = "save")]
    pub check: bool,

    /// Keep a unified diff of each device's running configuration before and after the
    /// change: in the record (`change.diff`), in --output-dir as `config.diff`, and in
    /// `netsweep report --diff`. Costs two reads of the running configuration per device.
    #[arg(long)]
    pub diff: bool,

    /// On platforms that commit: `commit confirmed MINUTES` first (the device rolls back by
    /// itself unless confirmed), then a confirming `commit`.
    #[arg(long, value_name = "MINUTES")]
    pub confirm_timeout: Option<u32>,
}

impl ChangeArgs {
    /// Whether the sweep makes a configuration change.
    pub fn requested(&self) -> bool {
        self.config.is_some() || !self.config_lines.is_empty()
    }
}

/// A change's template, compiled once, ready to render per device.
pub(crate) struct ChangePlan {
    env: Environment<'static>,
    flags: ChangeArgs,
}

const TEMPLATE: &str = "change";

impl ChangePlan {
    /// Reads and compiles the change; a syntax error names the file and line.
    pub(crate) fn load(flags: &ChangeArgs) -> anyhow::Result<Option<ChangePlan>> {
        if !flags.requested() {
            let given = [
                (!flags.after_commands.is_empty(), "--after-command"),
                (flags.save, "--save"),
                (flags.dry_run, "--dry-run"),
                (flags.check, "--check"),
                (flags.diff, "--diff"),
                (flags.confirm_timeout.is_some(), "--confirm-timeout"),
            ];
            if let Some((_, flag)) = given.iter().find(|(set, _)| *set) {
                anyhow::bail!(
                    "{flag} goes with a configuration change: add --config FILE or --config-line LINE"
                );
            }
            return Ok(None);
        }
        let mut source = String::new();
        let origin = match &flags.config {
            Some(path) => {
                source = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the change file {}", path.display()))?;
                path.display().to_string()
            }
            None => "--config-line".to_owned(),
        };
        for line in &flags.config_lines {
            if !source.is_empty() && !source.ends_with('\n') {
                source.push('\n');
            }
            source.push_str(line);
            source.push('\n');
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.add_template_owned(TEMPLATE, source)
            .map_err(|e| anyhow::anyhow!("{origin}: {}", describe(&e)))?;
        Ok(Some(ChangePlan {
            env,
            flags: flags.clone(),
        }))
    }

    /// The device's lines, or why they could not be rendered. `vars` are the device's
    /// inventory vars (`InventoryDevice::vars`).
    pub(crate) fn render(
        &self,
        target: &DeviceTarget,
        vars: &Vars,
    ) -> Result<ConfigChange, String> {
        let template = self.env.get_template(TEMPLATE).map_err(|e| describe(&e))?;
        let vars = minijinja::Value::from_serialize(vars);
        // Leftmost wins: the fields over a var of the same name, which the inventory refuses
        // anyway (`RESERVED_VAR_NAMES`).
        let text = template
            .render(minijinja::context! {
                name => &target.name,
                host => &target.host,
                port => target.port,
                platform => &target.platform,
                username => &target.username,
                groups => &target.groups,
                vars => &vars,
                ..vars.clone()
            })
            .map_err(|e| describe(&e))?;
        let lines = text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        Ok(ConfigChange {
            lines,
            after: self.flags.after_commands.clone(),
            save: self.flags.save,
            check: self.flags.check,
            diff: self.flags.diff,
            confirm_minutes: self.flags.confirm_timeout,
        })
    }
}

impl ChangeArgs {
    /// What a journal header records of the change (null without one), so that a resume
    /// can insist on it.
    pub(crate) fn header_value(&self) -> serde_json::Value {
        if !self.requested() {
            return serde_json::Value::Null;
        }
        serde_json::json!({
            "config": self.config.as_deref().map(Path::display).map(|d| d.to_string()),
            "config_lines": self.config_lines,
            "save": self.save,
            "check": self.check,
        })
    }
}

/// A device whose change could not be rendered: `config_error`, never contacted.
pub(crate) fn render_failure(target: &DeviceTarget, error: String) -> DeviceRecord {
    let mut record = DeviceRecord::from_target(
        target,
        Outcome::ConfigError,
        format!(
            "config: the change could not be rendered for this device: {error}; nothing was sent"
        ),
    );
    record.change = Some(ChangeReport {
        rejected: Some(RejectedLine {
            line: String::new(),
            answer: error,
        }),
        ..ChangeReport::default()
    });
    record
}

/// `--dry-run`'s text for one device.
pub(crate) fn dry_run_text(
    target: &DeviceTarget,
    rendered: &Result<ConfigChange, String>,
) -> String {
    match rendered {
        Ok(change) => {
            let mut text = format!("# {} ({})\n", target.name, target.platform);
            for line in &change.lines {
                text.push_str(line);
                text.push('\n');
            }
            text
        }
        Err(e) => format!(
            "# {} ({}): config_error: {e}\n",
            target.name, target.platform
        ),
    }
}

/// minijinja's error with its line: `undefined value (in change:2)`.
fn describe(e: &minijinja::Error) -> String {
    let mut text = e
        .detail()
        .map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind()));
    if let Some(line) = e.line() {
        text.push_str(&format!(" (line {line})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(line: &str) -> ChangePlan {
        let flags = ChangeArgs {
            config_lines: vec![line.to_owned()],
            ..ChangeArgs::default()
        };
        ChangePlan::load(&flags).unwrap().unwrap()
    }

    fn target() -> DeviceTarget {
        DeviceTarget {
            name: "r1".into(),
            host: "127.0.0.1".into(),
            port: 22,
            platform: "cisco_ios".into(),
            username: "u".into(),
            transport: netsweep_protocol::Transport::Ssh,
            password: None,
            secret: None,
            key_file: None,
            groups: vec!["core".into()],
            ssh: Default::default(),
        }
    }

    #[test]
    fn vars_are_seen_at_the_top_level_and_under_vars_beside_the_fields() {
        let vars: Vars = serde_json::from_str(
            r#"{"vlan": 20, "ntp": {"servers": ["10.0.0.1", "10.0.0.2"]}, "name": "a var"}"#,
        )
        .unwrap();
        let change = plan(
            "vlan {{ vlan }} {{ vars.vlan + 1 }}\n\
             {% for s in ntp.servers %}ntp server {{ s }}\n{% endfor %}\
             hostname {{ name }} {{ vars.name }}",
        )
        .render(&target(), &vars)
        .unwrap();
        assert_eq!(
            change.lines,
            [
                "vlan 20 21",
                "ntp server 10.0.0.1",
                "ntp server 10.0.0.2",
                // The inventory refuses such a var; if one got through, the field wins.
                "hostname r1 a var",
            ]
        );
    }

    #[test]
    fn every_reserved_field_name_is_a_field_templates_see() {
        for name in netsweep_inventory::RESERVED_VAR_NAMES {
            let rendered = plan(&format!("x {{{{ {name} }}}}")).render(&target(), &Vars::new());
            assert!(rendered.is_ok(), "{name}: {rendered:?}");
        }
        let missing = plan("x {{ vlan }}").render(&target(), &Vars::new());
        assert!(missing.unwrap_err().contains("undefined"));
    }
}
