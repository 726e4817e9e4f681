//! `--parse` on the worker's side: each output of a finished device turned into rows where
//! the output is, before the record travels.
//!
//! Templates are compiled once per worker process (threads of the thread pool share them):
//! the index and each template the first time a device needs them, then kept for every
//! later device. Workers forked from the fork server start with none and compile what they
//! need once. A template that fails, or no template at all, costs that output a
//! `parse_error`, never its raw output or another device's rows.
//!
//! This module must not print or choose where templates live: the job says.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use netsweep_protocol::{DeviceRecord, Job, ParseSpec, ParsedRows, ParsedValue};
use netsweep_textfsm::{Cell, CliTable, Table, Template, parse_merged};

/// Indexes by directory, and the user's own templates by file, compiled in this process.
#[derive(Default)]
struct Compiled {
    indexes: HashMap<PathBuf, Arc<CliTable>>,
    own: HashMap<PathBuf, Arc<Template>>,
}

static COMPILED: LazyLock<Mutex<Compiled>> = LazyLock::new(Mutex::default);

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
                parse_merged(&[(name.as_str(), template)], &output.output).map_err(|e| chain(&e))
            }),
            None => match &spec.templates {
                Some(dir) => index(dir).and_then(|table| {
                    table
                        .parse(platform, &output.command, &output.output)
                        .map_err(|e| chain(&e))
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
    let table = Arc::new(CliTable::open(dir).map_err(|e| chain(&e))?);
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
    let template = Arc::new(Template::from_file(file).map_err(|e| chain(&e))?);
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

fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = inner.source();
    }
    text
}
