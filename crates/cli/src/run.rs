//! `netsweep run`: inventory → jobs → pool → journal, screen and exit code.
//!
//! This module wires the crates together and decides the exit status; it does no device I/O,
//! and leaves rendering to the journal crate and [`crate::display`].

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use netsweep_inventory::{Inventory, InventoryDevice};
use netsweep_journal::{
    InventoryRef, JournalHeader, JournalWriter, OutputDir, ResumeOptions, ShardHeader,
    SummaryAccumulator, SummaryStyle, plan_resume,
};
use netsweep_platform::{CommandBook, PlatformTable};
use netsweep_pool::{
    Canary, Cancel, CancelLevel, FailureLimit, PoolConfig, PoolEvent, PoolKind, StopReason,
    SweepControls, WorkerStart,
};
use netsweep_protocol::{
    HostKeyPolicy, Job, NamedCommand, Outcome, ParseSpec, Timeouts, Transport,
};
use netsweep_shard::Shard;

use crate::ExitStatus;
use crate::args::{
    FormatChoice, HostKeyArgs, HostKeyChoice, PoolChoice, RunArgs, WorkerStartChoice,
};
use crate::display::{Display, DisplayOptions};
use crate::sharding::{self, ShardRequest};
use crate::signals;

/// Runs a sweep and returns the exit status it earned.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitStatus> {
    let shards = sharding::request(args)?;
    let table_format = matches!(args.format, FormatChoice::Table | FormatChoice::Csv);
    if table_format && !args.parse {
        bail!("--format table and csv print parsed rows: add --parse");
    }
    if !args.fields.is_empty() && !table_format {
        bail!("--fields chooses the columns of --format table or csv");
    }
    // Templates are found (and own templates compiled) before any journal or device.
    let parse = if args.parse && !args.commands.is_empty() {
        Some(crate::templates::parse_plan(
            args.templates.as_deref(),
            &args.template,
            &args.commands,
        )?)
    } else {
        None
    };
    // A change's template is compiled before anything else can fail half way.
    let change_plan = crate::change::ChangePlan::load(&args.change)?;
    let platforms = crate::platforms::table(args.platforms.as_deref())?;
    let inventory = load_inventory(&args.inventory, &platforms)?;
    let selected = inventory.select(&args.limit)?;
    check_canary_group(args, &selected)?;
    if let Some(plan) = change_plan.as_ref().filter(|_| args.change.dry_run) {
        return Ok(dry_run(plan, &selected));
    }

    // The journal first: a sweep that cannot record its results must not start.
    let mut summary = SummaryAccumulator::new();
    let (mut journal, commands, selected) =
        open_journal(args, &shards, &inventory, selected, &mut summary)?;
    let named = crate::platforms::named_commands(
        args.commands_file.as_deref(),
        &inventory.platforms,
        &commands,
    )?;
    let known_hosts = known_hosts_path(&args.host_keys)?;
    let parse = match parse {
        Some(plan) => Some(plan),
        // A resume takes its commands from the journal.
        None if args.parse => Some(crate::templates::parse_plan(
            args.templates.as_deref(),
            &args.template,
            &commands,
        )?),
        None => None,
    };
    let mut jobs = build_jobs(
        &selected,
        &commands,
        args,
        known_hosts.as_deref(),
        &inventory.platforms,
        &named,
        parse.as_ref(),
    );
    apply_ssh_config(args, &selected, &mut jobs)?;
    if let Some(group) = &args.controls.canary_group
        && !selected.iter().any(|d| d.target.groups.contains(group))
    {
        // A resume after the canary group was swept: the canary has done its work.
        eprintln!("canary group {group}: every device of it is already swept; no canary");
    }
    // Devices whose change cannot be rendered end here, uncontacted; the rest go on.
    let mut unrendered = Vec::new();
    if let Some(plan) = &change_plan {
        // One job per selected device, in order (`build_jobs`); vars stay in the inventory,
        // they never travel to workers.
        for (job, device) in jobs.iter_mut().zip(&selected) {
            debug_assert_eq!(job.target.name, device.target.name);
            match plan.render(&job.target, &device.vars) {
                Ok(change) => job.change = Some(change),
                Err(e) => {
                    unrendered.push((job.id, crate::change::render_failure(&job.target, e)));
                }
            }
        }
        jobs.retain(|job| job.change.is_some());
    }

    warn_of_clear_text(&jobs);

    // The simulator stays up for the whole run and stops when `_fleet` drops.
    let _fleet = if args.simulate {
        Some(start_simulator(&args.inventory, args.sim_seed, &platforms)?)
    } else {
        None
    };
    let output_dir = match &args.output_dir {
        Some(dir) => Some(
            OutputDir::create(dir).with_context(|| format!("cannot create {}", dir.display()))?,
        ),
        None => None,
    };

    let mut executor = netsweep_pool::executor(pool_config(args)?)?;
    let cancel = Cancel::new();
    let _signals = signals::install(&cancel)?;

    let mut ids: Vec<u64> = jobs.iter().map(|j| j.id).collect();
    ids.extend(unrendered.iter().map(|(id, _)| *id));
    ids.sort_unstable();
    let mut display = Display::new(
        &DisplayOptions {
            format: args.format,
            order: args.order,
            merge: args.merge,
            verbose: args.verbose,
            progress: !args.no_progress,
            fields: args.fields.clone(),
        },
        &ids,
    );
    if let Some(j) = &journal {
        display.note(&format!("journal: {}", j.path().display()));
    }

    let started = Instant::now();
    let mut journal_error = None;
    let mut cancelled = 0usize;
    let mut canary_passed = false;
    let mut finished =
        |display: &mut Display, job: u64, record: Box<netsweep_protocol::DeviceRecord>| {
            // A cancelled device has no result: leaving it out of the journal is what makes
            // a resume sweep it.
            if record.outcome != Outcome::Cancelled {
                if let Some(j) = &mut journal
                    && journal_error.is_none()
                    && let Err(e) = j.append(&record)
                {
                    tracing::error!("{}", crate::error_chain(&e));
                    journal_error = Some(e);
                }
                if let Some(dir) = &output_dir
                    && let Err(e) = dir.write_record(&record)
                {
                    tracing::error!("cannot write {}'s output files: {e}", record.device);
                }
                summary.add(&record);
            } else {
                cancelled += 1;
            }
            display.finished(job, record);
        };
    for (id, record) in unrendered {
        finished(&mut display, id, Box::new(record));
    }
    let total = jobs.len();
    let stats = executor.run(jobs, &cancel, &mut |event| match event {
        PoolEvent::Finished { job, record } => finished(&mut display, job, record),
        PoolEvent::CanaryPassed { devices } => {
            canary_passed = true;
            display.note(&format!(
                "canary: all {devices} devices ok; sweeping the other {}",
                total - devices
            ));
        }
        PoolEvent::Stopped { reason } => display.note(&format!(
            "stopping: {}; no new device starts, running devices finish",
            describe_stop(&reason, &args.controls)
        )),
        other => display.event(&other),
    })?;
    let elapsed = started.elapsed();
    if let Some(j) = &mut journal {
        j.flush_and_sync()?;
    }

    let (mut stdout, rows_error) = display.finish();
    let interrupted = cancel.level() != CancelLevel::None;
    let summary = summary.summary(elapsed);
    if let Some(path) = &args.stats {
        crate::stats::write(path, args, &summary, &stats)?;
    }
    let rendered = summary.render(SummaryStyle::default());
    if args.format == FormatChoice::Text {
        // The summary is part of a text report; machine formats keep stdout parseable.
        let _ = stdout
            .write_all(rendered.as_bytes())
            .and_then(|()| stdout.flush());
    } else {
        eprint!("{rendered}");
    }
    if let Some(j) = &journal {
        eprintln!("journal: {}", j.path().display());
    }
    if let Some(e) = rows_error {
        return Err(e);
    }
    if let Some(e) = journal_error {
        return Err(anyhow::Error::new(e)
            .context("the journal could not be written; results are incomplete on disk"));
    }
    let resume = ResumeFlags {
        canary: !canary_passed,
        rerun_failed: false,
    };
    if interrupted {
        let unfinished = stats.not_started.len() + cancelled;
        eprintln!("interrupted: {unfinished} devices not finished");
        if let Some(j) = &journal {
            eprintln!("resume with: {}", resume_command(args, j.path(), resume));
        }
        return Ok(ExitStatus::Interrupted);
    }
    if let Some(reason) = &stats.stopped {
        eprintln!("stopped: {}", describe_stop(reason, &args.controls));
        eprintln!(
            "{} devices were not started and have no record",
            stats.not_started.len()
        );
        match &journal {
            Some(j) => {
                // After a failed canary, the fix is tried on the failed canaries first.
                let canary_failed = matches!(reason, StopReason::CanaryFailed { .. });
                let resume = ResumeFlags {
                    rerun_failed: canary_failed,
                    ..resume
                };
                eprintln!("resume with: {}", resume_command(args, j.path(), resume));
                if !canary_failed {
                    eprintln!("  (add --rerun-failed to sweep the failed devices again too)");
                }
            }
            None => eprintln!("no journal was written: this sweep cannot be resumed"),
        }
        return Ok(ExitStatus::Stopped);
    }
    Ok(if summary.all_ok() || args.shards.exit_zero {
        ExitStatus::Ok
    } else {
        ExitStatus::SomeFailed
    })
}

/// Loads the inventory, checking `device_type` against `platforms` (built-in and
/// `--platforms`) and the inventory's own `platforms:`.
pub(crate) fn load_inventory(path: &Path, platforms: &PlatformTable) -> anyhow::Result<Inventory> {
    Ok(netsweep_inventory::load(path, platforms)?)
}

/// Creates this run's journal, or reopens the one being resumed and drops the devices it has
/// finished; with `--shard`, keeps only the shard's devices. Returns the journal, the commands
/// to run and the devices still to sweep.
fn open_journal<'i>(
    args: &RunArgs,
    shards: &ShardRequest,
    inventory: &Inventory,
    selected: Vec<&'i InventoryDevice>,
    summary: &mut SummaryAccumulator,
) -> anyhow::Result<(Option<JournalWriter>, Vec<String>, Vec<&'i InventoryDevice>)> {
    let requested_shard = shards.shard;
    let run_id = &shards.run_id;
    if let Some(which) = &args.resume {
        let path = resolve_journal(which)?;
        return resume_journal(
            args,
            &path,
            inventory,
            selected,
            requested_shard,
            run_id.as_deref(),
            summary,
        );
    }
    let total = selected.len();
    let selected = match requested_shard {
        Some(shard) => shard.select(selected, |d| d.name()),
        None => selected,
    };
    if let Some(shard) = requested_shard {
        eprintln!(
            "shard {shard}: {} of the {total} selected devices{}",
            selected.len(),
            if selected.is_empty() {
                "; nothing to sweep, the journal records that"
            } else {
                ""
            }
        );
    }
    if args.no_journal {
        return Ok((None, args.commands.clone(), selected));
    }
    let mut header = JournalHeader::new(
        jiff::Timestamp::now(),
        env!("CARGO_PKG_VERSION"),
        InventoryRef {
            path: inventory.path.clone(),
            sha256: inventory.content_hash(),
        },
        args.commands.clone(),
        serde_json::json!({
            "kind": args.pool.name(),
            "workers": args.workers,
            "retries": args.retries,
            "connect_timeout_ms": args.connect_timeout.as_millis() as u64,
            "command_timeout_ms": args.command_timeout.as_millis() as u64,
            "deadline_ms": args.deadline.as_millis() as u64,
            "limit": args.limit,
            "change": args.change.header_value(),
        }),
    );
    if let Some(id) = run_id {
        header.run_id = id.clone();
    }
    header.shard =
        requested_shard.map(|shard| ShardHeader::new(shard, selected.len() as u64, total as u64));
    let placement = sharding::place_journal(args, &header, requested_shard)?;
    if placement.continue_existing && placement.path.exists() {
        // A shard's own journal from an earlier attempt (a retried pod, a requeued task).
        return resume_journal(
            args,
            &placement.path,
            inventory,
            selected,
            requested_shard,
            run_id.as_deref(),
            summary,
        );
    }
    let writer = JournalWriter::create(&placement.path, &header)?;
    Ok((Some(writer), args.commands.clone(), selected))
}

/// Reopens `path` to carry its sweep on: the shard it holds (checked against `--shard` and
/// the run id), then the devices of `selected` that it has not finished.
fn resume_journal<'i>(
    args: &RunArgs,
    path: &Path,
    inventory: &Inventory,
    selected: Vec<&'i InventoryDevice>,
    requested_shard: Option<Shard>,
    run_id: Option<&str>,
    summary: &mut SummaryAccumulator,
) -> anyhow::Result<(Option<JournalWriter>, Vec<String>, Vec<&'i InventoryDevice>)> {
    let (writer, index) = JournalWriter::open_append(path)?;
    let shard = sharding::resumed_shard(
        path,
        &index.header,
        requested_shard,
        run_id,
        &inventory.content_hash(),
        args.force,
    )?;
    // A resumed shard sweeps exactly its own devices, whatever the rest of the inventory did.
    let selected = match shard {
        Some(shard) => shard.select(selected, |d| d.name()),
        None => selected,
    };
    let recorded_change = index.header.pool.get("change").filter(|c| !c.is_null());
    if let Some(change) = recorded_change
        && !args.change.requested()
    {
        bail!(
            "{} recorded a configuration change ({change}); give the same --config/--config-line flags to resume it",
            path.display()
        );
    }
    let commands = if args.commands.is_empty() {
        index.header.commands.clone()
    } else {
        args.commands.clone()
    };
    let plan = plan_resume(
        &index,
        &commands,
        selected.iter().map(|d| &d.target),
        ResumeOptions {
            rerun_failed: args.rerun_failed,
            force: args.force,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}; pass --force to resume anyway"))?;
    for d in &index.devices {
        if plan.finished.contains(&d.device) {
            summary.add_from_journal(&d.device, &d.outcome, d.total_ms);
        }
    }
    if index.torn_tail {
        tracing::warn!(
            "{}: dropped a torn last line left by a crash",
            path.display()
        );
    }
    let remaining: Vec<_> = selected
        .into_iter()
        .filter(|d| plan.should_run(d.name()))
        .collect();
    eprintln!(
        "resuming {}{}: {} devices finished, {} to sweep",
        path.display(),
        shard.map(|s| format!(" (shard {s})")).unwrap_or_default(),
        plan.finished.len(),
        remaining.len()
    );
    Ok((Some(writer), commands, remaining))
}

/// `--dry-run`: every selected device's rendered lines on stdout; nothing is contacted.
fn dry_run(plan: &crate::change::ChangePlan, selected: &[&InventoryDevice]) -> ExitStatus {
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0usize;
    for device in selected {
        let rendered = plan.render(&device.target, &device.vars);
        failed += usize::from(rendered.is_err());
        let _ = stdout.write_all(crate::change::dry_run_text(&device.target, &rendered).as_bytes());
    }
    let _ = stdout.flush();
    eprintln!(
        "dry run: {} devices rendered, {failed} could not be; nothing was contacted",
        selected.len() - failed
    );
    if failed == 0 {
        ExitStatus::Ok
    } else {
        ExitStatus::SomeFailed
    }
}

/// A journal path, or `latest` for the newest journal in the runs directory.
pub(crate) fn resolve_journal(which: &str) -> anyhow::Result<PathBuf> {
    if which != "latest" {
        return Ok(PathBuf::from(which));
    }
    let dir =
        netsweep_journal::default_runs_dir_from_env().context("cannot find the runs directory")?;
    Ok(netsweep_journal::latest_journal(&dir)?)
}

fn build_jobs(
    devices: &[&InventoryDevice],
    commands: &[String],
    args: &RunArgs,
    known_hosts: Option<&Path>,
    platforms: &PlatformTable,
    named: &CommandBook,
    parse: Option<&crate::templates::ParsePlan>,
) -> Vec<Job> {
    let policy = match args.host_keys.host_key_policy {
        HostKeyChoice::Strict => HostKeyPolicy::Strict,
        HostKeyChoice::AcceptNew => HostKeyPolicy::AcceptNew,
        HostKeyChoice::Off => HostKeyPolicy::Off,
    };
    let base = Timeouts {
        connect: args.connect_timeout,
        command: args.command_timeout,
        deadline: args.deadline,
    };
    // The user's named commands travel with every job; a built-in platform's job only names
    // its platform, a user-defined one carries its definition (serialized once per platform).
    let named_commands: Vec<NamedCommand> = named
        .entries()
        .map(|(name, default, per_platform)| NamedCommand {
            name: name.to_owned(),
            default: default.map(str::to_owned),
            platforms: per_platform.clone(),
        })
        .collect();
    let mut definitions: HashMap<&str, serde_json::Value> = HashMap::new();
    for p in platforms.platforms().iter().filter(|p| !p.is_builtin()) {
        if let Ok(value) = serde_json::to_value(p.spec()) {
            definitions.insert(p.name(), value);
        }
    }
    devices
        .iter()
        .enumerate()
        .map(|(i, d)| Job {
            id: i as u64,
            attempt: 1,
            target: d.target.clone(),
            commands: commands.to_vec(),
            timeouts: d.timeouts.apply(base),
            host_key_policy: policy,
            known_hosts: known_hosts.map(Path::to_path_buf),
            platform_definition: definitions.get(d.target.platform.as_str()).cloned(),
            named_commands: named_commands.clone(),
            parse: parse.map(|plan| ParseSpec {
                templates: plan.templates.clone(),
                platform: crate::templates::ntc_platform(platforms, &d.target.platform),
                own_templates: plan.own.clone(),
            }),
            change: None,
        })
        .collect()
}

/// Telnet sends the password (and everything else) unencrypted: said once per run, before
/// any device is contacted, whenever a device of the sweep uses it.
fn warn_of_clear_text(jobs: &[Job]) {
    let telnet: Vec<&str> = jobs
        .iter()
        .filter(|j| j.target.transport == Transport::Telnet)
        .map(|j| j.target.name.as_str())
        .collect();
    let Some(first) = telnet.first() else {
        return;
    };
    let which = match telnet.len() {
        1 => format!("device {first} connects"),
        n => format!("{n} devices ({first}, …) connect"),
    };
    eprintln!(
        "warning: {which} over telnet: passwords and everything else cross the network in \
         clear text; use SSH wherever the device offers it"
    );
}

/// Resolves ssh_config (`--ssh-config`, else `~/.ssh/config` when it exists) into the jobs,
/// here in the coordinator: workers never read `~/.ssh`.
fn apply_ssh_config(
    args: &RunArgs,
    devices: &[&InventoryDevice],
    jobs: &mut [Job],
) -> anyhow::Result<()> {
    use crate::ssh_config::{CliSet, EntrySet, SshConfig};
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = match (&args.ssh_config, args.no_ssh_config, &home) {
        (_, true, _) => return Ok(()),
        (Some(path), false, _) => path.clone(),
        (None, false, Some(home)) if home.join(".ssh/config").is_file() => home.join(".ssh/config"),
        _ => return Ok(()),
    };
    let config = SshConfig::read(&path, home.as_deref())?;
    let cli = CliSet {
        connect_timeout: args.connect_timeout != Duration::from_secs(10),
        host_key_policy: args.host_keys.host_key_policy != HostKeyChoice::AcceptNew,
        known_hosts: args.host_keys.known_hosts.is_some(),
    };
    for (job, device) in jobs.iter_mut().zip(devices) {
        // ssh_config speaks for SSH only: its Port or HostName must not move a telnet device.
        if job.target.transport == Transport::Telnet {
            continue;
        }
        let entry = EntrySet {
            port: device.target.port != 22,
            jump_host: !device.target.ssh.jump_hosts.is_empty(),
            connect_timeout: device.timeouts.connect_timeout.is_some(),
        };
        config
            .apply(job, entry, cli, home.as_deref())
            .with_context(|| format!("device `{}` ({})", device.name(), device.location))?;
    }
    Ok(())
}

fn pool_config(args: &RunArgs) -> anyhow::Result<PoolConfig> {
    let kind = match args.pool {
        PoolChoice::Threads => PoolKind::Threads,
        PoolChoice::Processes => {
            let (worker_path, worker_args) = match &args.worker_path {
                Some(p) => (p.clone(), vec![]),
                None => default_worker()?,
            };
            PoolKind::Processes {
                worker_path,
                worker_args,
                max_devices_per_worker: args.max_devices_per_worker,
                start: match args.worker_start {
                    WorkerStartChoice::ForkServer => WorkerStart::ForkServer,
                    WorkerStartChoice::Exec => WorkerStart::Exec,
                },
            }
        }
    };
    let mut config = PoolConfig::new(kind, args.workers);
    config.retries = args.retries;
    config.controls = sweep_controls(&args.controls);
    Ok(config)
}

fn sweep_controls(flags: &crate::args::ControlArgs) -> SweepControls {
    SweepControls {
        connect_rate: flags.connect_rate,
        max_per_group: flags.max_per_group.map(|n| n as usize),
        canary: match (&flags.canary, &flags.canary_group) {
            (Some(n), _) => Some(Canary::First(*n as usize)),
            (None, Some(group)) => Some(Canary::Group(group.clone())),
            (None, None) => None,
        },
        max_failures: flags.max_failures,
    }
}

/// `--canary-group` must name a group of the selection: a typo must not turn a canary
/// sweep into a sweep of everything.
fn check_canary_group(args: &RunArgs, selected: &[&InventoryDevice]) -> anyhow::Result<()> {
    let Some(group) = &args.controls.canary_group else {
        return Ok(());
    };
    if selected.iter().any(|d| d.target.groups.contains(group)) {
        return Ok(());
    }
    let mut groups: Vec<&str> = selected
        .iter()
        .flat_map(|d| d.target.groups.iter().map(String::as_str))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let known = if groups.is_empty() {
        "the selected devices are in no group".to_string()
    } else {
        format!("groups of the selected devices: {}", groups.join(", "))
    };
    bail!("--canary-group {group}: no selected device is in group {group} ({known})")
}

/// Why the sweep stopped, in the flags' words.
fn describe_stop(reason: &StopReason, flags: &crate::args::ControlArgs) -> String {
    match reason {
        StopReason::CanaryFailed { failed, canaries } => {
            let canary = match (&flags.canary, &flags.canary_group) {
                (None, Some(group)) => format!("--canary-group {group}"),
                (Some(n), _) => format!("--canary {n}"),
                (None, None) => "--canary".to_string(),
            };
            format!(
                "the canary failed: {failed} of its {canaries} devices did not end ok ({canary})"
            )
        }
        StopReason::TooManyFailures { failed, limit } => match flags.max_failures {
            Some(FailureLimit::Percent(p)) => {
                format!(
                    "{failed} devices failed, the --max-failures limit of {p}% ({limit} devices)"
                )
            }
            _ => format!("{failed} devices failed, the --max-failures limit of {limit}"),
        },
    }
}

/// `netsweep-worker` next to `netsweep` (cargo and installers put both in one directory).
/// Where it is missing, as after `cargo run --bin netsweep`, which builds only the coordinator,
/// `netsweep` itself serves as the worker through its hidden `__worker` mode: the same worker
/// loop, a bigger binary.
fn default_worker() -> anyhow::Result<(PathBuf, Vec<std::ffi::OsString>)> {
    let exe = std::env::current_exe().context("cannot find netsweep's own path")?;
    let worker = exe.with_file_name(format!("netsweep-worker{}", std::env::consts::EXE_SUFFIX));
    if worker.is_file() {
        return Ok((worker, vec![]));
    }
    tracing::info!(
        "{} not found; netsweep itself will run the worker processes",
        worker.display()
    );
    Ok((exe, vec![crate::WORKER_MODE.into()]))
}

/// netsweep's data directory, `$XDG_DATA_HOME/netsweep` (or `~/.local/share/netsweep`).
pub(crate) fn data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .map(|base| base.join("netsweep"))
}

/// netsweep's own known_hosts: `--known-hosts`, or `$XDG_DATA_HOME/netsweep/known_hosts`.
pub(crate) fn known_hosts_path(flags: &HostKeyArgs) -> anyhow::Result<Option<PathBuf>> {
    if flags.host_key_policy == HostKeyChoice::Off {
        return Ok(None);
    }
    if let Some(p) = &flags.known_hosts {
        return Ok(Some(p.clone()));
    }
    let Some(dir) = data_dir() else {
        bail!(
            "cannot place the known_hosts file: neither XDG_DATA_HOME nor HOME is set; pass --known-hosts"
        );
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(Some(dir.join("known_hosts")))
}

pub(crate) fn start_simulator(
    inventory: &Path,
    seed: u64,
    platforms: &PlatformTable,
) -> anyhow::Result<netsweep_sim::Fleet> {
    let spec = netsweep_sim::FleetSpec::from_inventory_with(inventory, seed, platforms)
        .context("--simulate")?;
    let fleet = netsweep_sim::Fleet::start(spec).context("--simulate")?;
    tracing::info!("simulator serving {} devices", fleet.devices().len());
    Ok(fleet)
}

/// What a resume command carries beyond the sweep's own flags.
#[derive(Clone, Copy, Debug)]
struct ResumeFlags {
    /// The canary flags (not once the canary has passed: it has done its work).
    canary: bool,
    /// `--rerun-failed` (after a failed canary: the fix is tried on it first).
    rerun_failed: bool,
}

/// The command that carries an interrupted or stopped sweep on: same inventory, selection,
/// pool and sweep controls, the journal to resume (its commands come from the journal).
fn resume_command(args: &RunArgs, journal: &Path, extra: ResumeFlags) -> String {
    let mut words: Vec<String> = vec!["netsweep".into(), "run".into()];
    words.push("--resume".into());
    words.push(journal.display().to_string());
    words.push("-i".into());
    words.push(args.inventory.display().to_string());
    for l in &args.limit {
        words.push("--limit".into());
        words.push(l.clone());
    }
    if args.simulate {
        words.push("--simulate".into());
    }
    words.push("--pool".into());
    words.push(args.pool.name().into());
    words.push("-w".into());
    words.push(args.workers.to_string());
    if let Some(k) = &args.host_keys.known_hosts {
        words.push("--known-hosts".into());
        words.push(k.display().to_string());
    }
    let controls = &args.controls;
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            words.push(name.into());
            words.push(value);
        }
    };
    flag(
        "--connect-rate",
        controls.connect_rate.map(|r| r.per_second().to_string()),
    );
    flag(
        "--max-per-group",
        controls.max_per_group.map(|n| n.to_string()),
    );
    flag(
        "--max-failures",
        controls.max_failures.map(|l| l.to_string()),
    );
    if extra.canary {
        flag("--canary", controls.canary.map(|n| n.to_string()));
        flag("--canary-group", controls.canary_group.clone());
    }
    if extra.rerun_failed {
        words.push("--rerun-failed".into());
    }
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes a word for POSIX shells only when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_command_keeps_the_sweep_controls() {
        use clap::Parser;
        let cli = crate::args::Cli::try_parse_from([
            "netsweep",
            "run",
            "-c",
            "show clock",
            "-i",
            "sites.yaml",
            "--connect-rate",
            "20",
            "--max-per-group",
            "4",
            "--canary",
            "5",
            "--max-failures",
            "2%",
        ])
        .unwrap();
        let crate::args::Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let journal = Path::new("runs/a.jsonl");
        let before_canary = ResumeFlags {
            canary: true,
            rerun_failed: true,
        };
        assert_eq!(
            resume_command(&args, journal, before_canary),
            "netsweep run --resume runs/a.jsonl -i sites.yaml --pool processes -w 32 \
             --connect-rate 20 --max-per-group 4 --max-failures 2% --canary 5 --rerun-failed"
        );
        let after_canary = ResumeFlags {
            canary: false,
            rerun_failed: false,
        };
        let command = resume_command(&args, journal, after_canary);
        assert!(command.ends_with("--max-failures 2%"), "{command}");
    }

    #[test]
    fn shell_quoting_survives_spaces_and_quotes() {
        assert_eq!(shell_quote("runs/a.jsonl"), "runs/a.jsonl");
        assert_eq!(shell_quote("show ip int br"), "'show ip int br'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
