//! One session to one device: connect, log in (SSH: handshake, host key, authentication;
//! telnet: option negotiation and the device's login prompts), drive the platform's CLI (or
//! SSH exec channels), and classify how it ended.
//!
//! The entry point is [`run_job`]: it walks the stages connect → handshake → host_key → auth →
//! prompt → enable → command → close (telnet has no host_key), reports each stage as it enters
//! it, times them, and returns a [`DeviceRecord`] whatever happens: it never panics on device
//! behaviour and never waits without a bound (sockets are used non-blocking and every wait has
//! a deadline taken from the job's timeouts; libssh2's `Session::set_timeout` is set too, as a
//! backstop).
//!
//! The transport seam: `tcp` opens the connection and waits on it; `ssh` or `telnet` (as the
//! job's target says) logs in and hands the CLI session a `cli_stream::CliStream`;
//! `cli_session` drives any such stream (prompt, paging, privilege, error markers, output
//! clean-up); exec channels are SSH's alone. Errors are transport-neutral `SessionError`s.
//!
//! Platforms are data ([`platform::Driver`]): a new one is a table entry, not new code.
//!
//! This crate knows nothing of pools, threads, processes or other devices, and never prints.
//! State shared between sessions of one process (keys read once, known_hosts files read once
//! and the lock around them) lives in [`SessionContext`].

mod aaa;
mod cli_session;
mod cli_stream;
mod config_change;
mod context;
mod deadline;
mod error;
pub mod platform;
mod ssh;
mod tcp;
mod telnet;
mod text;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use netsweep_protocol::{
    ChangeReport, CommandOutput, DeviceRecord, Job, Outcome, Stage, Timings, Transport,
};

use cli_session::CliSession;
use cli_stream::CliStream;
pub use context::SessionContext;
use deadline::{Deadline, OverallDeadline};
use error::{CommandFailure, SessionError};
use platform::{Driver, Interaction};
use tcp::Socket;
#[doc(hidden)]
pub use tcp::set_quickack_enabled;

/// Per-command output cap. Output beyond it is dropped (the session still reads it to find the
/// prompt) and the [`CommandOutput`] is marked `truncated`.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// Does once, for this process, the set-up every session would otherwise pay for on first
/// use: libssh2's and OpenSSL's global initialisation, and OpenSSL 3's lookup of the
/// algorithms netsweep offers first. A process that forks workers calls it before forking, so
/// that each worker starts with it done.
pub fn prepare_process() {
    ssh2::init();
    warm_up::fetch_first_choice_algorithms();
    // A configuration change reads the platform table; parsed here, every forked worker
    // inherits it instead of parsing it again (measured: +2.5 ms of worker CPU per device
    // with --config, debug build, before this).
    let _ = netsweep_platform::builtin();
}

/// OpenSSL 3 finds an algorithm's implementation on its first use in a process ("fetching"):
/// it builds its table of every algorithm name its providers offer, then caches the method.
/// That costs a new worker process more CPU than a whole session's crypto; fetched once in a
/// fork server, it is inherited by every worker forked from it.
///
/// Only lookups: nothing here touches keys or the random generator, so no forked worker
/// inherits any secret or random state from it.
mod warm_up {
    #[cfg(openssl3)]
    #[allow(unsafe_code)]
    pub(super) fn fetch_first_choice_algorithms() {
        use std::ptr::null_mut;
        // The algorithms of netsweep's first-choice handshake (see ssh/connection.rs): curve25519
        // key exchange with SHA-256, ed25519 host keys (SHA-512 inside), AES-GCM.
        // SAFETY: each call gets NUL-terminated names and the default library context (null);
        // each returned object, possibly null, is freed once (the free functions accept null)
        // and never used otherwise. The fetched methods stay in OpenSSL's own cache.
        unsafe {
            for cipher in [
                c"AES-128-GCM",
                c"AES-256-GCM",
                c"AES-256-CTR",
                c"AES-128-CTR",
            ] {
                openssl_sys::EVP_CIPHER_free(openssl_sys::EVP_CIPHER_fetch(
                    null_mut(),
                    cipher.as_ptr(),
                    std::ptr::null(),
                ));
            }
            for digest in [c"SHA256", c"SHA512", c"SHA1"] {
                openssl_sys::EVP_MD_free(openssl_sys::EVP_MD_fetch(
                    null_mut(),
                    digest.as_ptr(),
                    std::ptr::null(),
                ));
            }
            for key in [c"X25519", c"ED25519", c"EC", c"RSA"] {
                openssl_sys::EVP_PKEY_CTX_free(openssl_sys::EVP_PKEY_CTX_new_from_name(
                    null_mut(),
                    key.as_ptr(),
                    std::ptr::null(),
                ));
            }
        }
    }

    #[cfg(not(openssl3))]
    pub(super) fn fetch_first_choice_algorithms() {}
}

/// Runs one device job start to finish with the driver of `job.target.platform`.
///
/// Calls `on_stage` as each stage is entered. The record's `worker` is left empty and its
/// `attempt` is `job.attempt`: the pool fills in the rest.
pub fn run_job(job: &Job, ctx: &SessionContext, on_stage: &mut dyn FnMut(Stage)) -> DeviceRecord {
    match platform::driver(&job.target.platform) {
        Some(driver) => run_job_with_driver(job, ctx, driver, on_stage),
        None => {
            let supported: Vec<&str> = platform::device_types().iter().map(|(n, _)| *n).collect();
            let err = SessionError::UnknownPlatform {
                platform: job.target.platform.clone(),
                supported: supported.join(", "),
            };
            let mut record = DeviceRecord::from_target(
                &job.target,
                err.outcome(),
                err.message(Stage::Connect, None),
            );
            record.attempt = job.attempt;
            record
        }
    }
}

/// [`run_job`] with an explicit driver: for a platform variant not in the table yet, or a
/// test that needs a driver changed (e.g. without its paging-off commands).
pub fn run_job_with_driver(
    job: &Job,
    ctx: &SessionContext,
    driver: &Driver,
    on_stage: &mut dyn FnMut(Stage),
) -> DeviceRecord {
    let started = Instant::now();
    let mut stages = StageClock::new(on_stage);
    let mut outputs: Vec<CommandOutput> = Vec::new();
    let mut change: Option<ChangeReport> = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        sweep(job, ctx, driver, &mut stages, &mut outputs, &mut change)
    }));
    let current = stages.current;
    let running = stages.running.take();
    let mut timings = stages.finish();
    timings.total_ms = ms_since(started);

    let (outcome, message) = match result {
        Ok(Ok(())) => match change
            .as_ref()
            .and_then(|c| c.rejected.as_ref().map(|r| (c, r)))
        {
            Some((report, rejected)) => {
                (Outcome::ConfigError, config_error_message(report, rejected))
            }
            None => summarize(&outputs, timings.total_ms),
        },
        Ok(Err(err)) => {
            tracing::debug!(device = %job.target.name, error = %err, "session failed");
            (err.outcome(), err.message(current, running.as_deref()))
        }
        Err(_) => (
            Outcome::ProtocolError,
            format!(
                "{current}: netsweep hit an internal error while talking to the device; please report it"
            ),
        ),
    };
    DeviceRecord {
        device: job.target.name.clone(),
        host: job.target.host.clone(),
        port: job.target.port,
        platform: job.target.platform.clone(),
        transport: job.target.transport,
        outcome,
        message,
        outputs,
        timings,
        worker: String::new(),
        attempt: job.attempt,
        previous_attempts: Vec::new(),
        change,
    }
}

/// `config: line "ntp sever 1.1.1.1" refused: % Invalid input …; 2 lines applied before it`.
fn config_error_message(
    report: &ChangeReport,
    rejected: &netsweep_protocol::RejectedLine,
) -> String {
    if rejected.line.is_empty() {
        return format!("config: {}", rejected.answer);
    }
    let applied = report.applied.len();
    let after = if report.discarded {
        "nothing committed, the candidate was discarded".to_owned()
    } else if report.committed {
        format!(
            "{applied} line{} committed",
            if applied == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{applied} line{} applied before it stay applied",
            if applied == 1 { "" } else { "s" }
        )
    };
    format!(
        "config: line {:?} refused: {}; {after}",
        rejected.line,
        rejected.answer.trim()
    )
}

/// The outcome and message of a session that ran every command.
fn summarize(outputs: &[CommandOutput], total_ms: f64) -> (Outcome, String) {
    let failed: Vec<&CommandOutput> = outputs.iter().filter(|o| o.error.is_some()).collect();
    match failed.as_slice() {
        [] => (
            Outcome::Ok,
            format!(
                "ran {} command{} in {total_ms:.0} ms",
                outputs.len(),
                if outputs.len() == 1 { "" } else { "s" }
            ),
        ),
        [first, rest @ ..] => {
            let error = first.error.as_deref().unwrap_or_default();
            let others = if rest.is_empty() {
                String::new()
            } else {
                format!(
                    " (and {} more of {} commands failed)",
                    rest.len(),
                    outputs.len()
                )
            };
            (
                Outcome::CommandError,
                format!(
                    "command: {:?} failed: {error}{others}; check the command for this platform",
                    first.command
                ),
            )
        }
    }
}

/// The whole session; `outputs` receives every command's output, partial ones included.
fn sweep(
    job: &Job,
    ctx: &SessionContext,
    driver: &Driver,
    stages: &mut StageClock<'_>,
    outputs: &mut Vec<CommandOutput>,
    change: &mut Option<ChangeReport>,
) -> Result<(), SessionError> {
    // The pool enforces the device's deadline too (it can stop a stuck worker); keeping to it
    // here ends the session cleanly, with its partial output, and frees the thread.
    let overall = OverallDeadline::starting_now(job.timeouts.deadline);

    stages.enter(Stage::Connect);
    let open = || connect(job, ctx, overall);
    let socket = open()?;
    match job.target.transport {
        Transport::Ssh => ssh_session(
            socket, job, ctx, driver, overall, stages, outputs, change, &open,
        ),
        // Through jump hosts too: a bastion in front of an old telnet-only device is common.
        Transport::Telnet => {
            telnet_session(socket, job, ctx, driver, overall, stages, outputs, change)
        }
    }
}

/// Opens the device's byte stream: a TCP connection, or a channel through its jump hosts.
fn connect(
    job: &Job,
    ctx: &SessionContext,
    overall: OverallDeadline,
) -> Result<Socket, SessionError> {
    let target = &job.target;
    if target.ssh.jump_hosts.is_empty() {
        let connect_timeout = job.timeouts.connect.min(job.timeouts.deadline);
        tcp::connect(&target.host, target.port, connect_timeout).map(Socket::from)
    } else {
        ssh::jump::connect(job, ctx, &target.host, target.port, overall)
    }
}

/// The session over SSH: log in, then the CLI session over a PTY shell channel, or one exec
/// channel per command. `reopen` opens another connection to the device (to ask it what
/// algorithms it offers, should the handshake find none in common).
// The session's parts travel as arguments so that each transport's function reads as its
// stages; the change's report is one more of them.
#[allow(clippy::too_many_arguments)]
fn ssh_session(
    socket: Socket,
    job: &Job,
    ctx: &SessionContext,
    driver: &Driver,
    overall: OverallDeadline,
    stages: &mut StageClock<'_>,
    outputs: &mut Vec<CommandOutput>,
    change: &mut Option<ChangeReport>,
    reopen: &dyn Fn() -> Result<Socket, SessionError>,
) -> Result<(), SessionError> {
    let target = &job.target;
    let timeout = job.timeouts.command;
    let conn = ssh::login(
        socket,
        job,
        ctx,
        &target.host,
        target.port,
        &target.ssh.algorithms,
        &ssh::Login::device(target),
        driver.password_methods,
        overall,
        &mut |stage| stages.enter(stage),
        reopen,
    )?;

    match driver.interaction {
        Interaction::Shell => {
            stages.enter(Stage::Prompt);
            let deadline = overall.within(timeout);
            let channel = ssh::ShellChannel::open(&conn, &deadline)?;
            cli_session(
                channel, &deadline, job, driver, overall, stages, outputs, change,
            )?;
        }
        Interaction::Exec => {
            stages.enter(Stage::Command);
            if job.change.is_some() {
                *change = Some(ChangeReport {
                    rejected: Some(netsweep_protocol::RejectedLine {
                        line: String::new(),
                        answer: format!(
                            "{} runs commands over exec channels and has no configuration mode",
                            target.platform
                        ),
                    }),
                    ..ChangeReport::default()
                });
                return Ok(());
            }
            for command in &job.commands {
                stages.running = Some(command.clone());
                let result = ssh::exec::run(&conn, command, timeout);
                keep_output(result, outputs)?;
            }
            stages.running = None;
            stages.enter(Stage::Close);
        }
    }
    // Results are in; a device slow to say goodbye must not hold them up or change them.
    conn.close(timeout.min(std::time::Duration::from_secs(1)));
    Ok(())
}

/// The session over telnet: negotiate and log in by the device's prompts, then the CLI
/// session over the same connection. Every platform is a CLI over telnet (a Unix host is its
/// shell: telnet has no exec channels).
#[allow(clippy::too_many_arguments)] // as `cli_session`: the session's parts, one per argument
fn telnet_session(
    stream: Socket,
    job: &Job,
    ctx: &SessionContext,
    driver: &Driver,
    overall: OverallDeadline,
    stages: &mut StageClock<'_>,
    outputs: &mut Vec<CommandOutput>,
    change: &mut Option<ChangeReport>,
) -> Result<(), SessionError> {
    let timeout = job.timeouts.command;

    stages.enter(Stage::Handshake);
    let mut telnet = telnet::TelnetStream::new(stream, ctx.idle_hook())?;
    let asked = telnet::login::wait_for_login(&mut telnet, driver, &overall.within(timeout))?;

    stages.enter(Stage::Auth);
    let mut password_sent = false;
    telnet::login::log_in(
        &mut telnet,
        asked,
        &job.target,
        driver,
        timeout,
        overall,
        &mut || {
            stages.enter(Stage::Prompt);
            password_sent = true;
        },
    )?;
    if !password_sent {
        stages.enter(Stage::Prompt);
    }
    let deadline = overall.within(timeout);
    cli_session(
        telnet, &deadline, job, driver, overall, stages, outputs, change,
    )
}

/// The platform's CLI over any transport's logged-in `stream`, from learning the prompt
/// (within `deadline`, the prompt stage's) to leaving.
// The session's parts travel as arguments so that each transport's function reads as its
// stages; the change's report is one more of them.
#[allow(clippy::too_many_arguments)]
fn cli_session(
    stream: impl CliStream,
    deadline: &Deadline,
    job: &Job,
    driver: &Driver,
    overall: OverallDeadline,
    stages: &mut StageClock<'_>,
    outputs: &mut Vec<CommandOutput>,
    change: &mut Option<ChangeReport>,
) -> Result<(), SessionError> {
    let mut cli = CliSession::start(stream, driver, job.timeouts.command, overall, deadline)?;
    cli.prepare()?;
    if driver.enable.is_some() {
        stages.enter(Stage::Enable);
        cli.enable(job.target.secret.as_ref())?;
    }
    tracing::debug!(device = %job.target.name, prompt = cli.prompt(), "session ready");
    stages.enter(Stage::Command);
    for command in &job.commands {
        stages.running = Some(command.clone());
        keep_output(cli.send_command(command), outputs)?;
    }
    // `-c` commands run before the change, `--after-command` ones after it.
    if let Some(wanted) = &job.change {
        stages.running = Some("configuration change".into());
        let platform = netsweep_platform::builtin()
            .resolve(&job.target.platform)
            .map(|t| t.platform);
        let report = change.insert(ChangeReport::default());
        config_change::apply(&mut cli, platform.as_deref(), wanted, outputs, report)?;
        if report.rejected.is_none() {
            for command in &wanted.after {
                stages.running = Some(command.clone());
                keep_output(cli.send_command(command), outputs)?;
            }
        }
    }
    stages.running = None;
    stages.enter(Stage::Close);
    cli.close();
    Ok(())
}

/// Keeps a command's output, or a failed command's partial output, and passes its error on.
fn keep_output(
    result: Result<CommandOutput, CommandFailure>,
    outputs: &mut Vec<CommandOutput>,
) -> Result<(), SessionError> {
    match result {
        Ok(out) => {
            outputs.push(out);
            Ok(())
        }
        Err(failure) => {
            outputs.extend(failure.partial.map(|p| *p));
            Err(failure.error)
        }
    }
}

/// Milliseconds since `start`, as the protocol's timings count them.
pub(crate) fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Tracks the current stage, reports stage changes and accumulates per-stage time.
struct StageClock<'f> {
    on_stage: &'f mut dyn FnMut(Stage),
    current: Stage,
    /// The command being run, for messages about a failure in the middle of it.
    running: Option<String>,
    since: Instant,
    timings: Timings,
}

impl<'f> StageClock<'f> {
    fn new(on_stage: &'f mut dyn FnMut(Stage)) -> Self {
        StageClock {
            on_stage,
            current: Stage::Queued,
            running: None,
            since: Instant::now(),
            timings: Timings::default(),
        }
    }

    fn enter(&mut self, stage: Stage) {
        self.close_current();
        self.current = stage;
        (self.on_stage)(stage);
    }

    fn close_current(&mut self) {
        let now = Instant::now();
        let ms = now.duration_since(self.since).as_secs_f64() * 1000.0;
        self.timings.record(self.current, ms);
        self.since = now;
    }

    fn finish(mut self) -> Timings {
        self.close_current();
        self.timings
    }
}
