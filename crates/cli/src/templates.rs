//! ntc-templates found as netmiko finds them, `netsweep templates list`, and
//! `netsweep parse` (saved output through a template, no device contacted).
//!
//! The template directory is the first of: `--templates DIR`, `$NET_TEXTFSM`, netsweep's data
//! directory (`$XDG_DATA_HOME/netsweep/ntc-templates`), the `ntc_templates` package of the
//! `python3` on PATH, `~/ntc-templates/ntc_templates/templates`. A directory counts when it
//! holds an `index`. None found is one error naming every place looked and how to get
//! them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use netsweep_textfsm::{CliTable, Error as TextfsmError, Table, Template};

pub(crate) mod fetch;

use crate::ExitStatus;
use crate::args::{ParseArgs, TemplatesListArgs};
use crate::display::Stdout;
use crate::rows::{Rows, RowsFormat};

/// The environment variable netmiko reads for its template directory.
pub(crate) const NET_TEXTFSM: &str = "NET_TEXTFSM";

/// netsweep's own template directory, under its data directory (where
/// `netsweep templates fetch` unpacks ntc-templates).
pub(crate) fn data_templates_dir() -> Option<PathBuf> {
    crate::run::data_dir().map(|d| d.join("ntc-templates"))
}

/// The template directory, found as netmiko finds it (see the module doc).
pub(crate) fn find_templates(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    let has_index = |dir: &Path| dir.join("index").is_file();
    if let Some(dir) = flag {
        if has_index(dir) {
            return Ok(dir.to_path_buf());
        }
        bail!("--templates {}: no index file there", dir.display());
    }
    if let Some(dir) = std::env::var_os(NET_TEXTFSM).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if has_index(&dir) {
            return Ok(dir);
        }
        bail!("{NET_TEXTFSM}={}: no index file there", dir.display());
    }
    let mut looked = vec![
        "--templates DIR (not given)".to_string(),
        format!("${NET_TEXTFSM} (not set)"),
    ];
    let data = data_templates_dir();
    match &data {
        Some(dir) if has_index(dir) => return Ok(dir.clone()),
        Some(dir) => looked.push(format!("{} (netsweep's data directory)", dir.display())),
        None => {
            looked.push("netsweep's data directory (neither XDG_DATA_HOME nor HOME is set)".into())
        }
    }
    match python_package_dir() {
        Some(dir) if has_index(&dir) => return Ok(dir),
        Some(dir) => looked.push(format!(
            "{} (python3's ntc_templates package)",
            dir.display()
        )),
        None => looked.push("python3's ntc_templates package (not installed)".into()),
    }
    if let Some(home) = std::env::var_os("HOME") {
        let dir = Path::new(&home).join("ntc-templates/ntc_templates/templates");
        if has_index(&dir) {
            return Ok(dir);
        }
        looked.push(dir.display().to_string());
    }
    bail!(
        "no ntc-templates found; looked in:\n  {}\nget them with `netsweep templates fetch` (or `pip install ntc-templates`), or point --templates or {NET_TEXTFSM} at a directory with an index",
        looked.join("\n  ")
    )
}

/// Where the `python3` on PATH has the `ntc_templates` package, if it has it.
fn python_package_dir() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, ntc_templates; print(os.path.join(os.path.dirname(ntc_templates.__file__), 'templates'))",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    Some(PathBuf::from(dir.trim()))
}

/// `netsweep templates list`.
pub(crate) fn list(args: &TemplatesListArgs) -> anyhow::Result<ExitStatus> {
    let dir = find_templates(args.templates.as_deref())?;
    let table = CliTable::open(&dir)?;
    let index = table.index();
    let column = |name: &str| index.columns().iter().position(|c| c == name);
    let (Some(platform), Some(command)) = (column("Platform"), column("Command")) else {
        bail!(
            "{}: the index has no Platform or Command column",
            index.path().display()
        );
    };
    let mut rows = Rows {
        columns: vec!["platform".into(), "command".into(), "template".into()],
        cells: Vec::new(),
    };
    for row in index.rows() {
        if args
            .platform
            .as_deref()
            .is_some_and(|p| row.raw_field(platform) != p)
        {
            continue;
        }
        rows.cells.push(vec![
            row.raw_field(platform).to_string(),
            row.raw_field(command).to_string(),
            row.templates.join(":"),
        ]);
    }
    if rows.cells.is_empty()
        && let Some(p) = &args.platform
    {
        bail!("{}: no templates for platform '{p}'", dir.display());
    }
    let mut out = Stdout::new();
    rows.write_table(&mut out)?;
    eprintln!("{} templates in {}", rows.cells.len(), dir.display());
    Ok(ExitStatus::Ok)
}

/// `netsweep parse`.
pub(crate) fn parse(args: &ParseArgs) -> anyhow::Result<ExitStatus> {
    let text = read_input(args.input.as_deref())?;
    let parsed: Result<Table, TextfsmError> = match &args.template {
        Some(file) => {
            let template = Template::from_file(file)?;
            let name = file.display().to_string();
            netsweep_textfsm::parse_merged(&[(name.as_str(), &template)], &text)
        }
        None => {
            let (Some(platform), Some(command)) = (&args.platform, &args.command) else {
                bail!(
                    "give --platform and --command (to choose a template from the index), or --template FILE"
                );
            };
            let dir = find_templates(args.templates.as_deref())?;
            let table = CliTable::open(&dir)?;
            match table.parse(platform, command, &text) {
                Err(
                    e @ (TextfsmError::NoTemplate { .. }
                    | TextfsmError::Template(_)
                    | TextfsmError::Index { .. }),
                ) => {
                    return Err(e.into());
                }
                other => other,
            }
        }
    };
    let table = match parsed {
        Ok(table) => table,
        Err(e) => {
            eprintln!("netsweep: parse failed: {}", crate::error_chain(&e));
            return Ok(ExitStatus::SomeFailed);
        }
    };
    let rows = netsweep_pool::parse::rows(&table);
    let mut out = Stdout::new();
    match args.format {
        RowsFormat::Json => {
            if !args.fields.is_empty() {
                bail!("--fields applies to --format table and csv");
            }
            serde_json::to_writer_pretty(&mut out, &table.records())?;
            use std::io::Write;
            writeln!(out)?;
        }
        RowsFormat::Table => Rows::collect([(None, &rows)], &args.fields)?.write_table(&mut out)?,
        RowsFormat::Csv => Rows::collect([(None, &rows)], &args.fields)?.write_csv(&mut out)?,
    }
    Ok(ExitStatus::Ok)
}

fn read_input(path: Option<&Path>) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    match path {
        None => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
        }
        Some(p) if p == Path::new("-") => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
        }
        Some(p) => {
            bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        }
    }
    // As a sweep keeps device output: lossy UTF-8.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What `--parse` on `netsweep run` needs, settled before any device is contacted: the
/// template directory (unless every command has its own template) and the own templates,
/// each checked to compile.
pub(crate) struct ParsePlan {
    pub templates: Option<PathBuf>,
    pub own: Vec<(String, PathBuf)>,
}

/// `--parse`, `--templates`, `--template "CMD=FILE"` of `netsweep run`.
pub(crate) fn parse_plan(
    templates: Option<&Path>,
    own: &[String],
    commands: &[String],
) -> anyhow::Result<ParsePlan> {
    let mut own_templates = Vec::new();
    for item in own {
        let Some((command, file)) = item.rsplit_once('=') else {
            bail!("--template {item:?}: expected \"COMMAND=FILE\", e.g. \"show foo=foo.textfsm\"");
        };
        let file = PathBuf::from(file.trim());
        Template::from_file(&file).with_context(|| format!("--template {item:?}"))?;
        own_templates.push((command.trim().to_string(), file));
    }
    let all_own = commands
        .iter()
        .all(|c| own_templates.iter().any(|(own, _)| own == c));
    let templates = if all_own {
        None
    } else {
        let dir = find_templates(templates)?;
        CliTable::open(&dir)?;
        Some(dir)
    };
    Ok(ParsePlan {
        templates,
        own: own_templates,
    })
}

/// The platform name ntc-templates' index uses for a netsweep platform.
pub(crate) fn ntc_platform(table: &netsweep_platform::PlatformTable, platform: &str) -> String {
    table
        .get(platform)
        .and_then(|p| p.spec().ntc_platform.clone())
        .unwrap_or_else(|| platform.to_string())
}
