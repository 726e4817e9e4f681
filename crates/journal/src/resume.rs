//! Resume bookkeeping: from a journal's index and this run's plan, which devices are done,
//! which are redone, and whether resuming is safe at all.
//!
//! What matters for safety: the commands (a report mixing two command lists answers two
//! questions) and, for each device that will be *skipped*, the address and platform it was
//! swept at (a finished result about a box that is no longer at that name is a lie). The
//! inventory's hash alone does not matter: comments, credentials, timeouts, added or removed
//! devices change it without making any recorded result wrong. Credentials are not in the
//! journal, so a changed password cannot be detected — and does not need to be.
//!
//! This module must not read files or contact devices.

use std::collections::{HashMap, HashSet};

use netsweep_protocol::DeviceTarget;

use crate::error::{ChangedTarget, ResumeError};
use crate::reader::JournalIndex;

/// How to resume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResumeOptions {
    /// Redo devices whose last outcome was not `ok` (`--rerun-failed`).
    pub rerun_failed: bool,
    /// Resume even though commands or finished devices changed (`--force`).
    pub force: bool,
}

/// What a resumed run does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumePlan {
    /// Devices with a final record that are not run again.
    pub finished: HashSet<String>,
    /// Devices whose failed record is redone (`--rerun-failed`), in journal order.
    pub rerun: Vec<String>,
    /// Devices of this run that have no record yet, in the order given.
    pub remaining: Vec<String>,
    /// Devices in the journal that are no longer in this run's device list.
    pub not_in_run: Vec<String>,
    /// What changed, when resuming anyway with `force`.
    pub forced_over: Vec<ResumeError>,
}

impl ResumePlan {
    /// Whether `device` must be swept in this run.
    pub fn should_run(&self, device: &str) -> bool {
        !self.finished.contains(device)
    }
}

/// Plans a resume of the journal indexed by `index` for a run of `commands` on `targets`
/// (the devices selected for this run, in order).
pub fn plan_resume<'t>(
    index: &JournalIndex,
    commands: &[String],
    targets: impl IntoIterator<Item = &'t DeviceTarget>,
    options: ResumeOptions,
) -> Result<ResumePlan, ResumeError> {
    let mut refusals = Vec::new();
    if index.header.commands != commands {
        refusals.push(ResumeError::CommandsDiffer {
            journal: index.header.commands.clone(),
            now: commands.to_vec(),
        });
    }

    let recorded: HashMap<&str, usize> = index
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| (d.device.as_str(), i))
        .collect();
    let mut plan = ResumePlan::default();
    let mut in_run: HashSet<&str> = HashSet::new();
    let mut changed = Vec::new();
    let mut rerun_positions = Vec::new();
    for target in targets {
        in_run.insert(&target.name);
        let Some(&i) = recorded.get(target.name.as_str()) else {
            plan.remaining.push(target.name.clone());
            continue;
        };
        let entry = &index.devices[i];
        if options.rerun_failed && !entry.outcome.is_ok() {
            rerun_positions.push(i);
            continue;
        }
        let mut differs = |field: &'static str, was: String, now: String| {
            if was != now {
                changed.push(ChangedTarget {
                    device: target.name.clone(),
                    field,
                    was,
                    now,
                });
            }
        };
        differs("host", entry.host.clone(), target.host.clone());
        differs("port", entry.port.to_string(), target.port.to_string());
        differs("platform", entry.platform.clone(), target.platform.clone());
        plan.finished.insert(target.name.clone());
    }
    rerun_positions.sort_unstable();
    plan.rerun = rerun_positions
        .into_iter()
        .map(|i| index.devices[i].device.clone())
        .collect();
    plan.not_in_run = index
        .devices
        .iter()
        .filter(|d| !in_run.contains(d.device.as_str()))
        .map(|d| d.device.clone())
        .collect();
    if !changed.is_empty() {
        refusals.push(ResumeError::TargetsChanged { changed });
    }
    if !refusals.is_empty() {
        if !options.force {
            return Err(refusals.swap_remove(0));
        }
        plan.forced_over = refusals;
    }
    Ok(plan)
}
