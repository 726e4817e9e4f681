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
//! Platforms are data: the platform table (netsweep-platform) says how to recognise each
//! one's prompts, pager, denials and failed commands, and what to send; a new platform is a
//! table entry, not new code. `device_type: autodetect` finds the platform (`detect`).
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
mod detect;
mod error;
mod platform;
mod ssh;
mod tcp;
mod telnet;
mod text;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use netsweep_platform::{Channel, Platform, ResolvedCommand};

use netsweep_protocol::{
    ChangeReport, CommandOutput, DeviceRecord, Job, Outcome, Stage, Timings, Transport,
};

use cli_session::CliSession;
use cli_stream::CliStream;
pub use context::SessionContext;
use deadline::OverallDeadline;
use error::{CommandFailure, SessionError};
use platform::JobPlatform;
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
    // The built-in platform table, parsed and its regexes compiled now, so that a forked
    // worker starts with them.
    for p in netsweep_platform::builtin().platforms() {
        let _ = p.regexes();
    }
    warm_up::fetch_first_choice_algorithms();
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

/// Runs one device job start to finish with the platform of `job.target.platform` (the
/// platform table's, the job's own definition of a user-defined one, or found by
/// `autodetect`).
///
/// Calls `on_stage` as each stage is entered. The record's `worker` is left empty and its
/// `attempt` is `job.attempt`: the pool fills in the rest.
pub fn run_job(job: &Job, ctx: &SessionContext, on_stage: &mut dyn FnMut(Stage)) -> DeviceRecord {
    match platform::for_job(job, ctx) {
        Ok(JobPlatform::Known(p)) => run_job_with_platform(job, ctx, &p, on_stage),
        Ok(JobPlatform::Autodetect) => run(job, ctx, None, on_stage),
        Err(err) => failed_before_contact(job, &err),
    }
}

/// The commands `job` will send, as its platform names them (`@version` → `show version`),
/// for what a pool prepares before the device is contacted. `None` where only the session
/// can tell: autodetect, a user-defined platform, an unknown platform or named command.
pub fn planned_commands(job: &Job) -> Option<Vec<String>> {
    if job.platform_definition.is_some() {
        return None;
    }
    let platform = netsweep_platform::builtin()
        .resolve(&job.target.platform)?
        .platform;
    let commands = platform::commands_for(job, &platform).ok()?;
    Some(commands.into_iter().map(|c| c.command).collect())
}

/// [`run_job`] with an explicit platform: a test's variant of a table platform (e.g. without
/// its paging-off commands).
pub fn run_job_with_platform(
    job: &Job,
    ctx: &SessionContext,
    platform: &Platform,
    on_stage: &mut dyn FnMut(Stage),
) -> DeviceRecord {
    run(job, ctx, Some(platform), on_stage)
}

/// The record of a device that was not contacted (an unknown platform; a named command its
/// platform has no command for).
fn failed_before_contact(job: &Job, err: &SessionError) -> DeviceRecord {
    let mut record = DeviceRecord::from_target(
        &job.target,
        err.outcome(),
        err.message(Stage::Connect, None),
    );
    record.attempt = job.attempt;
    record
}

fn run(
    job: &Job,
    ctx: &SessionContext,
    platform: Option<&Platform>,
    on_stage: &mut dyn FnMut(Stage),
) -> DeviceRecord {
    // Named commands are resolved before the device is contacted: a platform without a
    // command for one fails here, costing the device nothing.
    let commands = match platform.map(|p| platform::commands_for(job, p)) {
        Some(Err(err)) => return failed_before_contact(job, &err),
        Some(Ok(commands)) => Some(commands),
        None => None,
    };
    let started = Instant::now();
    let mut stages = StageClock::new(on_stage);
    let mut outputs: Vec<CommandOutput> = Vec::new();
    let mut detected: Option<String> = None;
    let mut change: Option<ChangeReport> = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let session = Session {
            job,
            overall: OverallDeadline::starting_now(job.timeouts.deadline),
            stages: &mut stages,
            outputs: &mut outputs,
            change: &mut change,
        };
        session.sweep(ctx, platform, commands, &mut detected)
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
        platform_detected: detected,
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

/// One device's session as it goes: the job, its deadline, its stages and outputs, and the
/// configuration change's report.
struct Session<'s, 'f> {
    job: &'s Job,
    overall: OverallDeadline,
    stages: &'s mut StageClock<'f>,
    outputs: &'s mut Vec<CommandOutput>,
    change: &'s mut Option<ChangeReport>,
}

impl Session<'_, '_> {
    /// The whole session; `outputs` receives every command's output, partial ones included;
    /// `detected`, the platform autodetect found. `platform` is `None` for autodetect, and
    /// `commands` then `None` too (they are resolved once the platform is known).
    fn sweep(
        self,
        ctx: &SessionContext,
        platform: Option<&Platform>,
        commands: Option<Vec<ResolvedCommand>>,
        detected: &mut Option<String>,
    ) -> Result<(), SessionError> {
        // The pool enforces the device's deadline too (it can stop a stuck worker); keeping
        // to it here ends the session cleanly, with its partial output, and frees the thread.
        let job = self.job;
        self.stages.enter(Stage::Connect);
        let overall = self.overall;
        let open = || connect(job, ctx, overall);
        let socket = open()?;
        match job.target.transport {
            Transport::Ssh => self.over_ssh(socket, ctx, platform, commands, detected, &open),
            // Through jump hosts too: a bastion in front of an old telnet-only device is
            // common.
            Transport::Telnet => self.over_telnet(socket, ctx, platform, commands),
        }
    }

    /// The session over SSH: log in, then the CLI session over a PTY shell channel, or one
    /// exec channel per command. `reopen` opens another connection to the device (to ask it
    /// what algorithms it offers, should the handshake find none in common).
    fn over_ssh(
        mut self,
        socket: Socket,
        ctx: &SessionContext,
        platform: Option<&Platform>,
        commands: Option<Vec<ResolvedCommand>>,
        detected: &mut Option<String>,
        reopen: &dyn Fn() -> Result<Socket, SessionError>,
    ) -> Result<(), SessionError> {
        let job = self.job;
        let target = &job.target;
        let timeout = job.timeouts.command;

        let conn = ssh::open(
            socket,
            job,
            ctx,
            &target.host,
            target.port,
            &target.ssh.algorithms,
            self.overall,
            &mut |stage| self.stages.enter(stage),
            reopen,
        )?;

        // Autodetect's first clue: the server's ident, before any login.
        let candidates = match platform {
            Some(_) => Vec::new(),
            None => detect::candidates_for_ident(conn.session.banner().unwrap_or_default()),
        };
        let (suffix, methods): (Option<String>, Vec<String>) = match platform {
            Some(p) => (
                p.spec().username_suffix.clone(),
                p.spec().auth_methods.clone(),
            ),
            None => (
                detect::common_username_suffix(&candidates),
                vec!["password".into(), "keyboard-interactive".into()],
            ),
        };
        self.stages.enter(Stage::Auth);
        let user = format!("{}{}", target.username, suffix.unwrap_or_default());
        let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
        let login = ssh::Login {
            user: &user,
            ..ssh::Login::device(target)
        };
        ssh::authenticate(&conn, &login, ctx, &methods, timeout)?;

        let exec_only = match platform {
            Some(p) => p.spec().channel == Channel::Exec,
            None => detect::all_exec(&candidates),
        };
        if exec_only {
            let found;
            let platform = match platform {
                Some(p) => p,
                None => {
                    found = Arc::clone(&candidates[0]);
                    *detected = Some(found.name().to_owned());
                    &found
                }
            };
            let commands = match commands {
                Some(c) => c,
                None => platform::commands_for(job, platform)?,
            };
            self.exec(&conn, &commands)?;
        } else {
            self.stages.enter(Stage::Prompt);
            let deadline = self.overall.within(timeout);
            let mut channel = ssh::ShellChannel::open(&conn, &deadline)?;
            match platform {
                Some(p) => {
                    let commands = commands.unwrap_or_default();
                    let cli = CliSession::start(channel, p, timeout, self.overall, &deadline)?;
                    self.cli(cli, p, &commands)?;
                }
                None => {
                    let found = detect::on_cli(&mut channel, candidates, &deadline)?;
                    tracing::debug!(
                        device = %target.name,
                        platform = found.platform.name(),
                        asked = found.asked,
                        "platform detected"
                    );
                    *detected = Some(found.platform.name().to_owned());
                    let commands = platform::commands_for(job, &found.platform)?;
                    if found.platform.spec().channel == Channel::Exec {
                        // A Unix host, recognised by its shell prompt: commands go over exec
                        // channels, as for a known one.
                        drop(channel);
                        self.exec(&conn, &commands)?;
                        conn.close(timeout.min(std::time::Duration::from_secs(1)));
                        return Ok(());
                    }
                    let cli = CliSession::resume(
                        channel,
                        &found.platform,
                        found.prompt,
                        timeout,
                        self.overall,
                    );
                    self.cli(cli, &found.platform, &commands)?;
                }
            }
        }
        // Results are in; a device slow to say goodbye must not hold them up or change them.
        conn.close(timeout.min(std::time::Duration::from_secs(1)));
        Ok(())
    }

    /// The session over telnet: negotiate and log in by the device's prompts, then the CLI
    /// session over the same connection. Every platform is a CLI over telnet (a Unix host is
    /// its shell: telnet has no exec channels).
    fn over_telnet(
        mut self,
        socket: Socket,
        ctx: &SessionContext,
        platform: Option<&Platform>,
        commands: Option<Vec<ResolvedCommand>>,
    ) -> Result<(), SessionError> {
        let job = self.job;
        let timeout = job.timeouts.command;
        let Some(platform) = platform else {
            return Err(SessionError::Undetected {
                detail: "autodetect needs SSH (the server's ident and exec channels); give \
                         the device's platform for telnet"
                    .into(),
            });
        };
        let commands = commands.unwrap_or_default();

        self.stages.enter(Stage::Handshake);
        let mut telnet = telnet::TelnetStream::new(socket, ctx.idle_hook())?;
        let asked =
            telnet::login::wait_for_login(&mut telnet, platform, &self.overall.within(timeout))?;

        self.stages.enter(Stage::Auth);
        let mut password_sent = false;
        let stages = &mut *self.stages;
        telnet::login::log_in(
            &mut telnet,
            asked,
            &job.target,
            platform,
            timeout,
            self.overall,
            &mut || {
                stages.enter(Stage::Prompt);
                password_sent = true;
            },
        )?;
        if !password_sent {
            self.stages.enter(Stage::Prompt);
        }
        let deadline = self.overall.within(timeout);
        let cli = CliSession::start(telnet, platform, timeout, self.overall, &deadline)?;
        self.cli(cli, platform, &commands)
    }

    /// One exec channel per command (Unix hosts).
    fn exec(
        &mut self,
        conn: &ssh::Connection,
        commands: &[ResolvedCommand],
    ) -> Result<(), SessionError> {
        self.stages.enter(Stage::Command);
        if self.job.change.is_some() {
            *self.change = Some(ChangeReport {
                rejected: Some(netsweep_protocol::RejectedLine {
                    line: String::new(),
                    answer: format!(
                        "{} runs commands over exec channels and has no configuration mode",
                        self.job.target.platform
                    ),
                }),
                ..ChangeReport::default()
            });
            return Ok(());
        }
        for command in commands {
            self.stages.running = Some(command.command.clone());
            let result = ssh::exec::run(conn, &command.command, self.job.timeouts.command);
            keep_output(result, command, self.outputs)?;
        }
        self.stages.running = None;
        self.stages.enter(Stage::Close);
        Ok(())
    }

    /// The platform's CLI over any transport's logged-in stream, from a learned prompt to
    /// leaving.
    fn cli<S: CliStream>(
        &mut self,
        mut cli: CliSession<'_, S>,
        platform: &Platform,
        commands: &[ResolvedCommand],
    ) -> Result<(), SessionError> {
        // Over telnet there is no handshake to amortise and the far end may be a tty that
        // echoes typed-ahead lines early (see `prepare`): one line at a time there.
        cli.prepare(self.job.target.transport == Transport::Ssh)?;
        if platform.spec().enable.is_some() {
            self.stages.enter(Stage::Enable);
            cli.enable(self.job.target.secret.as_ref())?;
        }
        tracing::debug!(device = %self.job.target.name, prompt = cli.prompt(), "session ready");
        self.stages.enter(Stage::Command);
        for command in commands {
            self.stages.running = Some(command.command.clone());
            keep_output(cli.send_command(&command.command), command, self.outputs)?;
        }
        // `-c` commands run before the change, `--after-command` ones after it.
        if let Some(wanted) = &self.job.change {
            self.stages.running = Some("configuration change".into());
            let report = self.change.insert(ChangeReport::default());
            config_change::apply(&mut cli, Some(platform), wanted, self.outputs, report)?;
            if report.rejected.is_none() {
                for command in &wanted.after {
                    self.stages.running = Some(command.clone());
                    let as_asked = ResolvedCommand {
                        name: None,
                        command: command.clone(),
                    };
                    keep_output(cli.send_command(command), &as_asked, self.outputs)?;
                }
            }
        }
        self.stages.running = None;
        self.stages.enter(Stage::Close);
        cli.close();
        Ok(())
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

/// Keeps a command's output, or a failed command's partial output, under the name it was
/// asked by, and passes its error on.
fn keep_output(
    result: Result<CommandOutput, CommandFailure>,
    command: &ResolvedCommand,
    outputs: &mut Vec<CommandOutput>,
) -> Result<(), SessionError> {
    let named = |mut out: CommandOutput| {
        out.name.clone_from(&command.name);
        out
    };
    match result {
        Ok(out) => {
            outputs.push(named(out));
            Ok(())
        }
        Err(failure) => {
            outputs.extend(failure.partial.map(|p| named(*p)));
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
