//! `netsweep merge`: the journals of a sharded sweep joined into one, and what the operator
//! must know about the result (missing shards, interrupted ones, torn tails).

use anyhow::Context;
use netsweep_journal::{MergeOptions, merge_shards, shard_journals};

use crate::ExitStatus;
use crate::args::MergeArgs;

/// Merges, then says what was merged. Exit status 0 once merged, whatever the devices'
/// outcomes: `netsweep report` of the merged journal gives those.
pub fn merge(args: &MergeArgs) -> anyhow::Result<ExitStatus> {
    let files = shard_journals(&args.inputs)?;
    let report = merge_shards(
        &files,
        &args.output,
        MergeOptions {
            allow_missing: args.allow_missing,
        },
    )
    .context("nothing was written")?;
    let output = args.output.display();
    for shard in &report.shards {
        if shard.torn_tail {
            eprintln!(
                "warning: {}: dropped a torn last line (the shard was killed mid-write)",
                shard.path.display()
            );
        }
        if shard.unrecorded() > 0 {
            eprintln!(
                "warning: shard {}: {} of its {} devices have no record (interrupted, not resumed)",
                shard.shard,
                shard.unrecorded(),
                shard.planned
            );
        }
    }
    if !report.missing.is_empty() {
        eprintln!(
            "warning: merged without shard{} {} of {}: their devices have no record",
            if report.missing.len() == 1 { "" } else { "s" },
            report
                .missing
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            report.count
        );
    }
    eprintln!(
        "merged {} shard journal{} of run {} into {output}: {} devices, {} ok, {} failed",
        report.shards.len(),
        if report.shards.len() == 1 { "" } else { "s" },
        report.run_id,
        report.devices,
        report.ok,
        report.failed()
    );
    let unrecorded: u64 = report.shards.iter().map(|s| s.unrecorded()).sum();
    if unrecorded > 0 || !report.missing.is_empty() {
        eprintln!(
            "sweep the devices without a record with: netsweep run --resume {output} -i INVENTORY"
        );
    }
    Ok(ExitStatus::Ok)
}
