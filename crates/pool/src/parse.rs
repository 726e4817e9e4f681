//! `--parse` on the worker's side: each output of a finished device turned into rows where
//! the output is, before the record travels.
//!
//! Templates are compiled once per process and kept for every later device. Before the
//! first device, the pool compiles what the sweep's jobs will need ([`ParsePlan`]): the
//! thread pool in its own process, the process pool in its fork server, so that forked
//! workers start with the compiled automata instead of each compiling them on its first
//! device (which cost the process pool 45 % of its throughput at W=32). Anything else (an
//! exec'd worker, a command only the session knows) is compiled the first time a device
//! needs it. A template that fails, or no template at all, costs that output a
//! `parse_error`, never its raw output or another device's rows.
//!
//! This module must not print or choose where templates live: the job says.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use netsweep_protocol::{DeviceRecord, Job, ParseSpec, ParsedRows, ParsedValue, error_chain};
use netsweep_textfsm::{Cell, CliTable, Table, Template, parse_merged};

/// Indexes by directory, and the user's own templates by file, compiled in this process.
#[derive(Default)]
struct Compiled {
    indexes: HashMap<PathBuf, Arc<CliTable>>,
    own: HashMap<PathBuf, Arc<Template>>,
}

static COMPILED: LazyLock<Mutex<Compiled>> = LazyLock::new(Mutex::default);

/// What a sweep's jobs will parse, known before any device runs: each (template directory,
/// ntc platform, command sent) and each own template file.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ParsePlan {
    indexed: BTreeSet<(PathBuf, String, String)>,
    own: BTreeSet<PathBuf>,
}

impl ParsePlan {
    /// The plan of `jobs`. Jobs whose commands only the session can name (autodetect, a
    /// user-defined platform) are left out: they compile when they parse.
    pub(crate) fn of(jobs: &[Job]) -> ParsePlan {
        let mut plan = ParsePlan::default();
        // A sweep's jobs share a handful of (device type, commands, parse spec): resolve
        // each once, not once per device. (Named-command books are one per sweep.)
        let mut seen = HashSet::new();
        for job in jobs {
            let Some(spec) = &job.parse else { continue };
            let key = (
                job.target.platform.as_str(),
                job.commands.as_slice(),
                spec.platform.as_str(),
                spec.templates.as_deref(),
                spec.own_templates.as_slice(),
            );
            if !seen.insert(key) {
                continue;
            }
            plan.own
                .extend(spec.own_templates.iter().map(|(_, file)| file.clone()));
            let Some(dir) = &spec.templates else { continue };
            for command in netsweep_device::planned_commands(job).unwrap_or_default() {
                if spec.own_templates.iter().all(|(own, _)| *own != command) {
                    plan.indexed
                        .insert((dir.clone(), spec.platform.clone(), command));
                }
            }
        }
        plan
    }

    /// Whether there is nothing to compile.
    pub(crate) fn is_empty(&self) -> bool {
        self.indexed.is_empty() && self.own.is_empty()
    }

    /// Compiles the plan into this process's cache. Errors are left for the parse that
    /// meets them, where they become that output's `parse_error`.
    pub(crate) fn compile(&self) {
        for (dir, platform, command) in &self.indexed {
            if let Ok(table) = index(dir) {
                let _ = table.prepare(platform, command);
            }
        }
        for file in &self.own {
            if let Ok(template) = own_template(file) {
                template.prepare();
            }
        }
    }
}

/// Parses every output of `record` that the device did not reject, as `job.parse` says.
pub(crate) fn parse_job_outputs(job: &Job, record: &mut DeviceRecord) {
    if let Some(spec) = &job.parse {
        parse_outputs(spec, record);
    }
}

/// Parses every output of `record` that the device did not reject, as `spec` says
/// (replacing rows or errors of an earlier parse).
pub fn parse_outputs(spec: &ParseSpec, record: &mut DeviceRecord) {
    // An autodetected device is parsed as the platform it turned out to be.
    let detected = match (&record.platform_detected, spec.platform.as_str()) {
        (Some(found), netsweep_platform::AUTODETECT) => netsweep_platform::builtin()
            .get(found)
            .and_then(|p| p.spec().ntc_platform.clone()),
        _ => None,
    };
    let platform = detected.as_deref().unwrap_or(&spec.platform);
    for output in &mut record.outputs {
        if output.error.is_some() {
            continue;
        }
        let own = spec
            .own_templates
            .iter()
            .find(|(command, _)| *command == output.command)
            .map(|(_, file)| file.as_path());
        output.parsed = None;
        output.parse_error = None;
        let parsed = match own {
            Some(file) => own_template(file).and_then(|template| {
                let name = file.display().to_string();
                parse_merged(&[(name.as_str(), template)], &output.output)
                    .map_err(|e| error_chain(&e))
            }),
            None => match &spec.templates {
                Some(dir) => index(dir).and_then(|table| {
                    table
                        .parse(platform, &output.command, &output.output)
                        .map_err(|e| error_chain(&e))
                }),
                None => Err("no template directory and no own template for this command".into()),
            },
        };
        match parsed {
            Ok(table) => output.parsed = Some(rows(&table)),
            Err(message) => output.parse_error = Some(message),
        }
    }
}

fn index(dir: &Path) -> Result<Arc<CliTable>, String> {
    let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(table) = compiled.indexes.get(dir) {
        return Ok(Arc::clone(table));
    }
    let table = Arc::new(CliTable::open(dir).map_err(|e| error_chain(&e))?);
    compiled
        .indexes
        .insert(dir.to_path_buf(), Arc::clone(&table));
    Ok(table)
}

fn own_template(file: &Path) -> Result<Arc<Template>, String> {
    let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(template) = compiled.own.get(file) {
        return Ok(Arc::clone(template));
    }
    let template = Arc::new(Template::from_file(file).map_err(|e| error_chain(&e))?);
    compiled
        .own
        .insert(file.to_path_buf(), Arc::clone(&template));
    Ok(template)
}

/// A parsed table as the record carries it: keys lower-cased, list items as CliTable
/// makes them.
pub fn rows(table: &Table) -> ParsedRows {
    ParsedRows {
        columns: table.lower_header(),
        rows: table
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| match cell {
                        Cell::Text(text) => ParsedValue::Text(text.clone()),
                        Cell::List(items) => {
                            ParsedValue::List(items.iter().map(|i| i.to_clitable()).collect())
                        }
                    })
                    .collect()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netsweep_protocol::DeviceTarget;

    fn job(platform: &str, commands: &[&str], parse: Option<ParseSpec>) -> Job {
        let target = DeviceTarget {
            name: "r1".into(),
            host: "127.0.0.1".into(),
            port: 22,
            platform: platform.into(),
            transport: Default::default(),
            username: "admin".into(),
            password: None,
            secret: None,
            key_file: None,
            groups: Vec::new(),
            ssh: Default::default(),
        };
        let mut job = netsweep_testkit::job(target, commands, Path::new("/dev/null"));
        job.parse = parse;
        job
    }

    fn spec(platform: &str, own: &[(&str, &str)]) -> Option<ParseSpec> {
        Some(ParseSpec {
            templates: Some(PathBuf::from("/t")),
            platform: platform.into(),
            own_templates: own
                .iter()
                .map(|(c, f)| (c.to_string(), PathBuf::from(f)))
                .collect(),
        })
    }

    #[test]
    fn a_plan_names_each_platform_and_command_sent_once() {
        let jobs = [
            job(
                "cisco_ios",
                &["@version", "show foo"],
                spec("cisco_ios", &[("show foo", "/own.textfsm")]),
            ),
            job("cisco_xe", &["show version"], spec("cisco_ios", &[])),
            job("huawei", &["@version"], spec("huawei_vrp", &[])),
            // Nothing to plan: no --parse, autodetect, an unknown named command.
            job("cisco_ios", &["show clock"], None),
            job("autodetect", &["@version"], spec("autodetect", &[])),
            job("cisco_ios", &["@no-such-name"], spec("cisco_ios", &[])),
        ];
        let plan = ParsePlan::of(&jobs);
        let indexed: Vec<(&str, &str)> = plan
            .indexed
            .iter()
            .map(|(dir, platform, command)| {
                assert_eq!(dir, Path::new("/t"));
                (platform.as_str(), command.as_str())
            })
            .collect();
        assert_eq!(
            indexed,
            [
                ("cisco_ios", "show version"),
                ("huawei_vrp", "display version")
            ]
        );
        assert_eq!(plan.own, BTreeSet::from([PathBuf::from("/own.textfsm")]));
        assert!(ParsePlan::of(&jobs[3..4]).is_empty());
    }
}
