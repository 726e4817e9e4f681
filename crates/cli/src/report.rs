//! `netsweep report`: renders a journal again — text, JSON, JSON Lines or the summary alone —
//! without contacting any device.

use std::io::Write;
use std::time::Duration;

use netsweep_journal::{
    JsonArrayWriter, MergedText, SummaryAccumulator, SummaryStyle, read_journal, write_jsonl,
    write_text,
};

use crate::ExitStatus;
use crate::args::{ReportArgs, ReportFormat};
use crate::display::Stdout;

/// Prints the journal's final records; the exit status says whether they were all ok, as the
/// sweep's own did.
pub fn report(args: &ReportArgs) -> anyhow::Result<ExitStatus> {
    let path = crate::run::resolve_journal(&args.journal)?;
    let journal = read_journal(&path)?;
    if journal.torn_tail {
        tracing::warn!(
            "{}: ignoring a torn last line left by a crash",
            path.display()
        );
    }
    let mut records = journal.final_records();
    if args.diff {
        let mut out = Stdout::new();
        for r in &records {
            if let Some(diff) = r.change.as_ref().and_then(|c| c.diff.as_deref()) {
                writeln!(out, "=== {} ({})", r.device, r.outcome)?;
                out.write_all(diff.as_bytes())?;
            }
        }
        out.flush()?;
        return Ok(ExitStatus::Ok);
    }
    let reparsed: Vec<netsweep_protocol::DeviceRecord>;
    if args.parse {
        let mut commands: Vec<String> = Vec::new();
        for r in &records {
            for o in &r.outputs {
                if !commands.contains(&o.command) {
                    commands.push(o.command.clone());
                }
            }
        }
        let plan =
            crate::templates::parse_plan(args.templates.as_deref(), &args.template, &commands)?;
        reparsed = records
            .iter()
            .map(|r| {
                let mut record = (*r).clone();
                let spec = netsweep_protocol::ParseSpec {
                    templates: plan.templates.clone(),
                    // An autodetected device is parsed as the platform found.
                    platform: crate::templates::ntc_platform(
                        netsweep_platform::builtin(),
                        record
                            .platform_detected
                            .as_deref()
                            .unwrap_or(&record.platform),
                    ),
                    own_templates: plan.own.clone(),
                };
                netsweep_pool::parse::parse_outputs(&spec, &mut record);
                record
            })
            .collect();
        records = reparsed.iter().collect();
    }
    let mut summary = SummaryAccumulator::new();
    for r in &records {
        summary.add(r);
    }
    // Records carry per-device times, not wall-clock stamps: the run's elapsed time is not
    // known here, so the summary reports the devices' own total instead.
    let summary = summary.summary(Duration::ZERO);

    let mut out = Stdout::new();
    match args.format {
        ReportFormat::Text if args.merge => {
            let mut merged = MergedText::new();
            records.iter().for_each(|r| merged.add(r));
            merged.write(&mut out)?;
            summary.write(&mut out, SummaryStyle::default())?;
        }
        ReportFormat::Text => {
            for r in &records {
                write_text(&mut out, r)?;
            }
            summary.write(&mut out, SummaryStyle::default())?;
        }
        ReportFormat::Json => {
            let mut array = JsonArrayWriter::new(&mut out);
            for r in &records {
                array.push(r)?;
            }
            array.finish()?;
        }
        ReportFormat::Jsonl => {
            for r in &records {
                write_jsonl(&mut out, r)?;
            }
        }
        ReportFormat::Summary => summary.write(&mut out, SummaryStyle::default())?,
    }
    out.flush()?;
    Ok(if summary.all_ok() {
        ExitStatus::Ok
    } else {
        ExitStatus::SomeFailed
    })
}
