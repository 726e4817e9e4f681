//! `netsweep platforms`: the platform table as a table for people, or as JSON (each entry's
//! `definition` is the shape a `--platforms` file uses), built-in platforms first, then a
//! file's and an inventory's own.
//!
//! Also where the command line's platform and named-command files are read, so that `run`
//! and `platforms` read them the same way.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use netsweep_platform::{CommandBook, CommandRef, PlatformTable, command_ref};

use crate::ExitStatus;
use crate::args::{PlatformsArgs, PlatformsFormat};

/// The built-in table, plus the platforms of `file` (`--platforms`).
pub(crate) fn table(file: Option<&Path>) -> anyhow::Result<PlatformTable> {
    let builtin = netsweep_platform::builtin();
    Ok(match file {
        Some(path) => builtin.with_file(path)?,
        None => builtin.clone(),
    })
}

/// The `--commands` file checked against `platforms`, and every `@name` of `commands` known
/// to it or to the table: an unknown name is a usage error, before anything is swept.
pub(crate) fn named_commands(
    file: Option<&Path>,
    platforms: &PlatformTable,
    commands: &[String],
) -> anyhow::Result<CommandBook> {
    let book = match file {
        Some(path) => CommandBook::load(path, platforms)?,
        None => CommandBook::default(),
    };
    for written in commands {
        if let CommandRef::Named(name) = command_ref(written)
            && !book.knows(name, platforms)
        {
            let mut known: Vec<&str> = platforms
                .platforms()
                .iter()
                .flat_map(|p| p.spec().commands.keys().map(String::as_str))
                .chain(book.names())
                .collect();
            known.sort_unstable();
            known.dedup();
            anyhow::bail!(
                "unknown named command @{name} (known: @{}); define it in a --commands file",
                known.join(", @")
            );
        }
    }
    Ok(book)
}

/// Runs `netsweep platforms`.
pub fn platforms(args: &PlatformsArgs) -> anyhow::Result<ExitStatus> {
    let mut table = table(args.platforms.as_deref())?;
    if let Some(inventory) = &args.inventory {
        let text = std::fs::read_to_string(inventory)
            .with_context(|| format!("cannot read {}", inventory.display()))?;
        if let Some(extended) = table.with_inventory_platforms(&text, inventory)? {
            table = extended;
        }
    }
    let text = match args.format {
        PlatformsFormat::Text => render_text(&table),
        PlatformsFormat::Json => render_json(&table)?,
    };
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (`| head`) is not an error worth reporting.
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    Ok(ExitStatus::Ok)
}

fn render_text(table: &PlatformTable) -> String {
    let header = [
        "PLATFORM",
        "ALIASES",
        "CHANNEL",
        "MODES",
        "NTC-TEMPLATES",
        "@version",
    ];
    let rows: Vec<[String; 6]> = table
        .platforms()
        .iter()
        .map(|p| {
            let spec = p.spec();
            let mut name = spec.name.clone();
            if !p.is_builtin() {
                name.push('*');
            }
            let aliases: Vec<&str> = spec.aliases.iter().map(|a| a.name.as_str()).collect();
            let modes: Vec<&str> = spec.modes().iter().map(|m| m.as_str()).collect();
            [
                name,
                aliases.join(", "),
                spec.channel.as_str().to_owned(),
                modes.join(" "),
                spec.ntc_platform.clone().unwrap_or_default(),
                spec.commands.get("version").cloned().unwrap_or_default(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&header);
    for row in &rows {
        out.push_str(&line(&row.each_ref().map(String::as_str)));
    }
    let mut named: Vec<&str> = table
        .platforms()
        .iter()
        .flat_map(|p| p.spec().commands.keys().map(String::as_str))
        .collect();
    named.sort_unstable();
    named.dedup();
    out.push_str(&format!(
        "\nNamed commands (-c @NAME, each platform's own command): @{}\n",
        named.join(", @")
    ));
    if table.platforms().iter().any(|p| !p.is_builtin()) {
        out.push_str("* user-defined\n");
    }
    out.push_str(
        "device_type: autodetect finds the platform from the SSH ident, the prompt and at most \
         one show-version-style command.\n",
    );
    out
}

fn render_json(table: &PlatformTable) -> anyhow::Result<String> {
    let entries: Vec<serde_json::Value> = table
        .platforms()
        .iter()
        .map(|p| {
            let modes: Vec<&str> = p.spec().modes().iter().map(|m| m.as_str()).collect();
            Ok(serde_json::json!({
                "name": p.name(),
                "builtin": p.is_builtin(),
                "modes": modes,
                "definition": serde_json::to_value(p.spec())?,
            }))
        })
        .collect::<Result<_, serde_json::Error>>()?;
    Ok(serde_json::to_string_pretty(&entries)? + "\n")
}
