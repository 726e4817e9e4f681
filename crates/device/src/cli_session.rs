//! Driving a device's interactive CLI, whatever transport carries it: learn the prompt, turn
//! paging off, enter privileged mode, run commands, clean their output.
//!
//! It runs over any [`CliStream`] (an SSH shell channel, a telnet connection) and must not
//! know which: no transport types, no transport errors. Every read is bounded by a deadline.
//! Command output is framed by the command's echo and the next prompt, so stray prompts or
//! banners left over from earlier never shift it. Nothing here knows a platform by name: the
//! platform table ([`Platform`]) says what a prompt, a pager, a denial or a failed command
//! looks like, and what to send.
//!
//! Prompts are matched on the last line only (cut at a length no prompt reaches) with regexes
//! compiled once per process, so recognising them costs the same whatever the output size.

use std::time::{Duration, Instant};

use netsweep_platform::{Mode, Platform, PlatformSpec, Regexes};
use netsweep_protocol::{CommandOutput, Secret, Stage};

use crate::cli_stream::CliStream;
use crate::deadline::{Deadline, OverallDeadline};
use crate::error::{CommandFailure, SessionError};
use crate::text::{self, Collector, OutputRules};
use crate::{MAX_OUTPUT_BYTES, ms_since};

const READ_CHUNK: usize = 64 * 1024;

/// A question a command may ask (a test on the output's last line) and the answer to type.
type Question<'q> = Option<(&'q dyn Fn(&str) -> bool, &'q str)>;

/// A device's CLI with a learned prompt, over the stream `S`.
pub(crate) struct CliSession<'p, S: CliStream> {
    stream: S,
    platform: &'p Platform,
    /// The prompt's `base` group (the host part), which every later prompt of the session
    /// shows again, whatever the mode.
    base: String,
    /// The latest full prompt (`r1>`, `r1#`).
    prompt: String,
    /// The mode that prompt shows.
    mode: Mode,
    /// Each exchange's own time limit; the device's overall deadline caps it.
    timeout: Duration,
    overall: OverallDeadline,
    buf: Vec<u8>,
    /// What followed the echo of the enable command when `prepare` sent it, for `enable`.
    enable_reply: Option<Vec<u8>>,
}

impl<'p, S: CliStream> CliSession<'p, S> {
    /// Learns the prompt over a freshly logged-in `stream` (stage `prompt`), within
    /// `deadline`: the prompt stage's, which opening the stream may have used already. A login
    /// that lands in a Unix shell (Junos root) is taken into the CLI. Paging is not touched
    /// yet.
    pub(crate) fn start(
        stream: S,
        platform: &'p Platform,
        timeout: Duration,
        overall: OverallDeadline,
        deadline: &Deadline,
    ) -> Result<CliSession<'p, S>, SessionError> {
        let mut session = CliSession::resume(stream, platform, String::new(), timeout, overall);
        session.learn_prompt(deadline)?;
        Ok(session)
    }

    /// A session over a stream whose last line, `prompt`, was already read (autodetect read
    /// it to find the platform). An empty `prompt` is learned by [`CliSession::start`].
    pub(crate) fn resume(
        stream: S,
        platform: &'p Platform,
        prompt: String,
        timeout: Duration,
        overall: OverallDeadline,
    ) -> CliSession<'p, S> {
        let mut session = CliSession {
            stream,
            platform,
            base: String::new(),
            prompt: String::new(),
            mode: Mode::User,
            timeout,
            overall,
            buf: vec![0; READ_CHUNK],
            enable_reply: None,
        };
        if let Some(found) = platform.regexes().prompt(&prompt) {
            let (base, mode) = (found.base.to_owned(), found.mode);
            session.set_prompt(prompt, base, mode);
        }
        session
    }

    fn spec(&self) -> &'p PlatformSpec {
        self.platform.spec()
    }

    fn regexes(&self) -> &'p Regexes {
        self.platform.regexes()
    }

    fn last_line(&self, bytes: &[u8]) -> (String, usize) {
        text::last_line(bytes, self.spec().strip_ansi)
    }

    fn output_rules(&self) -> OutputRules<'p> {
        OutputRules {
            strip_ansi: self.spec().strip_ansi,
            errors: Some(self.regexes()),
        }
    }

    /// The prompt as last seen.
    pub(crate) fn prompt(&self) -> &str {
        &self.prompt
    }

    /// Sends an empty line and takes the last line that comes back as a prompt of the
    /// platform; from a Unix shell, starts the CLI and learns its prompt.
    fn learn_prompt(&mut self, deadline: &Deadline) -> Result<(), SessionError> {
        let newline = self.spec().line_ending.clone();
        self.stream
            .write_all(newline.as_bytes(), deadline, Stage::Prompt)?;
        let regexes = self.regexes();
        let strip_ansi = self.spec().strip_ansi;
        let (line, found) = read_until_prompt(
            &mut self.stream,
            &mut self.buf,
            deadline,
            strip_ansi,
            |line| regexes.prompt(line).map(|m| (m.mode, m.base.to_owned())),
        )?;
        let (mode, base) = found;
        self.set_prompt(line, base, mode);
        tracing::debug!(prompt = %self.prompt, "learned the prompt");
        if self.mode == Mode::Shell {
            self.leave_shell(deadline)?;
        }
        Ok(())
    }

    /// Starts the CLI from the Unix shell a login landed in (Junos root: `cli`).
    fn leave_shell(&mut self, deadline: &Deadline) -> Result<(), SessionError> {
        let Some(shell) = &self.spec().shell else {
            return Ok(());
        };
        tracing::debug!(command = %shell.command, "starting the CLI from the shell");
        let after = self.send_line(&shell.command, deadline, Stage::Prompt)?;
        let regexes = self.regexes();
        let strip_ansi = self.spec().strip_ansi;
        let (line, (mode, base)) = read_until_prompt_from(
            after,
            &mut self.stream,
            &mut self.buf,
            deadline,
            strip_ansi,
            |line| {
                regexes
                    .prompt(line)
                    .filter(|m| m.mode != Mode::Shell)
                    .map(|m| (m.mode, m.base.to_owned()))
            },
        )?;
        self.set_prompt(line, base, mode);
        Ok(())
    }

    fn set_prompt(&mut self, line: String, base: String, mode: Mode) {
        self.base = base;
        self.prompt = line;
        self.mode = mode;
    }

    /// Runs the platform's set-up commands (paging and width off), and sends the command
    /// that enters privileged mode right behind them when [`CliSession::enable`] will need
    /// it. They go out in one write and cost one round trip together instead of one each (on
    /// a distant device, a round trip is most of a session's time). A device that rejects a
    /// set-up command still works: the pager is answered instead.
    ///
    /// `batch: false` sends each set-up command on its own and leaves the enable command to
    /// [`CliSession::enable`]: a device whose terminal echoes typed-ahead lines at once (a
    /// Unix tty in canonical mode, as BusyBox telnetd gives its login program) shows every
    /// echo before the first answer, so a batch's prompts cannot be told apart.
    pub(crate) fn prepare(&mut self, batch: bool) -> Result<(), SessionError> {
        let stage = Stage::Prompt;
        let spec = self.spec();
        if !batch {
            let setup = spec.setup.clone();
            return self.run_setup(&setup, stage);
        }
        let enable = spec
            .enable
            .as_ref()
            .filter(|_| self.mode == Mode::User)
            .map(|e| e.command.clone());
        let mut lines: Vec<String> = spec.setup.clone();
        lines.extend(enable.clone());
        let Some(last) = lines.last().cloned() else {
            return Ok(());
        };
        let deadline = self.overall.within(self.timeout);
        let batch: String = lines
            .iter()
            .map(|line| format!("{line}{}", spec.line_ending))
            .collect();
        self.stream.write_all(batch.as_bytes(), &deadline, stage)?;
        // Everything before the last line's echo (the set-up commands' echoes and answers)
        // is passed over.
        let after_echo = self.read_echo(&last, &deadline, stage)?;
        if enable.is_some() {
            self.enable_reply = Some(after_echo);
            return Ok(());
        }
        let mut collector = Collector::new(MAX_OUTPUT_BYTES);
        collector.push(&after_echo);
        self.read_output(&mut collector, &deadline, stage, None)?;
        let (body, truncated) = collector.into_body();
        let rules = self.output_rules();
        let out = text::command_output(&last, &body, truncated, &rules, 0.0);
        if out.error.is_some() {
            tracing::debug!(command = last, error = ?out.error, "set-up command rejected");
        }
        Ok(())
    }

    fn run_setup(&mut self, commands: &[String], stage: Stage) -> Result<(), SessionError> {
        for command in commands {
            match self.run(command, stage) {
                Ok(out) if out.error.is_some() => {
                    tracing::debug!(command, error = ?out.error, "set-up command rejected");
                }
                Ok(_) => {}
                Err(f) => return Err(f.error),
            }
        }
        Ok(())
    }

    /// Enters privileged mode where the platform has one and the login is not already
    /// there (privilege 15), then runs the platform's commands for privileged mode (ASA's
    /// `terminal pager 0`). A device that grants it without a password gets no secret. With
    /// no secret configured and a device that asks for one, the session stays in user mode (a
    /// secret is how a sweep says it needs privileged mode).
    pub(crate) fn enable(&mut self, secret: Option<&Secret>) -> Result<(), SessionError> {
        let Some(spec) = &self.spec().enable else {
            return Ok(());
        };
        if self.mode != Mode::User {
            return self.run_setup(&spec.then, Stage::Enable);
        }
        if self.ask_enable(spec.command.as_str(), secret)? {
            self.run_setup(&spec.then, Stage::Enable)?;
        }
        Ok(())
    }

    /// Asks for privileged mode; `Ok(false)` when the session stays in user mode.
    fn ask_enable(&mut self, command: &str, secret: Option<&Secret>) -> Result<bool, SessionError> {
        let stage = Stage::Enable;
        let deadline = self.overall.within(self.timeout);
        // `prepare` may have sent the command already, behind the paging commands.
        let mut seen = match self.enable_reply.take() {
            Some(after_echo) => after_echo,
            None => self.send_line(command, &deadline, stage)?,
        };
        match self.read_enable_reply(&mut seen, &deadline, true)? {
            EnableReply::Prompt(line, mode) => return self.finish_enable(line, mode, &seen),
            EnableReply::Denied(line) => {
                return Err(SessionError::EnableRejected { detail: Some(line) });
            }
            EnableReply::Password => {}
        }
        let newline = self.spec().line_ending.clone();
        let Some(secret) = secret else {
            // Leave the password prompt without guessing (an empty answer, as many times as
            // the device asks, within reason), and carry on in user mode.
            for _ in 0..3 {
                self.stream
                    .write_all(newline.as_bytes(), &deadline, stage)?;
                seen.clear();
                match self.read_enable_reply(&mut seen, &deadline, false)? {
                    EnableReply::Prompt(line, mode) => {
                        tracing::debug!("no enable secret configured; staying in user mode");
                        let base = self.base.clone();
                        self.set_prompt(line, base, mode);
                        return Ok(false);
                    }
                    EnableReply::Denied(_) | EnableReply::Password => {}
                }
            }
            return Err(SessionError::NoEnableSecret);
        };
        let mut answer = secret.expose().as_bytes().to_vec();
        answer.extend_from_slice(newline.as_bytes());
        self.stream.write_all(&answer, &deadline, stage)?;
        seen.clear();
        match self.read_enable_reply(&mut seen, &deadline, true)? {
            EnableReply::Prompt(line, mode) => self.finish_enable(line, mode, &seen),
            EnableReply::Denied(line) => Err(SessionError::EnableRejected { detail: Some(line) }),
            EnableReply::Password => Err(SessionError::EnableRejected {
                detail: Some("the device asked for the secret again".into()),
            }),
        }
    }

    fn finish_enable(
        &mut self,
        line: String,
        mode: Mode,
        seen: &[u8],
    ) -> Result<bool, SessionError> {
        if matches!(mode, Mode::Privileged | Mode::Config) {
            let base = self.base.clone();
            self.set_prompt(line, base, mode);
            Ok(true)
        } else {
            let (text, _) = text::clean(seen, self.spec().strip_ansi);
            let detail = self
                .regexes()
                .denial(&text)
                .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
                .map(str::to_string);
            Err(SessionError::EnableRejected { detail })
        }
    }

    /// Reads until the device shows a prompt, asks for a password or (if `stop_at_denial`)
    /// says no.
    fn read_enable_reply(
        &mut self,
        seen: &mut Vec<u8>,
        deadline: &Deadline,
        stop_at_denial: bool,
    ) -> Result<EnableReply, SessionError> {
        let stage = Stage::Enable;
        let regexes = self.regexes();
        loop {
            if stop_at_denial {
                let (text, _) = text::clean(seen, self.spec().strip_ansi);
                if let Some(line) = regexes.denial(&text) {
                    return Ok(EnableReply::Denied(line.to_string()));
                }
            }
            let (line, _) = self.last_line(seen);
            if regexes.asks_password(&line) {
                return Ok(EnableReply::Password);
            }
            if let Some(mode) = regexes.session_prompt(&line, &self.base) {
                return Ok(EnableReply::Prompt(line, mode));
            }
            let n = self.stream.read_some(&mut self.buf, deadline, stage)?;
            if n == 0 {
                return Err(SessionError::Lost {
                    stage,
                    source: None,
                });
            }
            seen.extend_from_slice(&self.buf[..n]);
        }
    }

    /// Runs one command and returns its output (stage `command`).
    pub(crate) fn send_command(&mut self, command: &str) -> Result<CommandOutput, CommandFailure> {
        self.run(command, Stage::Command)
    }

    /// Runs one command that may ask a question (`[Y/N]`): each time the last line of its
    /// output satisfies `asks`, `answer` is typed.
    pub(crate) fn send_answering(
        &mut self,
        command: &str,
        asks: &dyn Fn(&str) -> bool,
        answer: &str,
    ) -> Result<CommandOutput, CommandFailure> {
        self.run_answering(command, Stage::Command, Some((asks, answer)))
    }

    fn run(&mut self, command: &str, stage: Stage) -> Result<CommandOutput, CommandFailure> {
        self.run_answering(command, stage, None)
    }

    fn run_answering(
        &mut self,
        command: &str,
        stage: Stage,
        question: Question<'_>,
    ) -> Result<CommandOutput, CommandFailure> {
        let started = Instant::now();
        let deadline = self.overall.within(self.timeout);
        let after_echo = self.send_line(command, &deadline, stage)?;
        let mut collector = Collector::new(MAX_OUTPUT_BYTES);
        collector.push(&after_echo);

        // Phase 2: output until the prompt, answering the pager if paging is still on.
        let rules = self.output_rules();
        match self.read_output(&mut collector, &deadline, stage, question) {
            Ok(()) => {
                let (body, truncated) = collector.into_body();
                Ok(text::command_output(
                    command,
                    &body,
                    truncated,
                    &rules,
                    ms_since(started),
                ))
            }
            Err(error) => {
                // Whatever arrived is kept: a partial configuration is still worth having.
                let (body, _) = collector.into_body();
                let partial = text::command_output(command, &body, true, &rules, ms_since(started));
                Err(CommandFailure {
                    error,
                    partial: Some(Box::new(partial)),
                })
            }
        }
    }

    /// Sends `line` and reads until its echo has come back; returns what followed the echoed
    /// line. Anything before the echo (a stray prompt, a late banner) is dropped, so it can
    /// never be mistaken for this line's reply.
    fn send_line(
        &mut self,
        line: &str,
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<Vec<u8>, SessionError> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(self.spec().line_ending.as_bytes());
        self.stream.write_all(&bytes, deadline, stage)?;
        self.read_echo(line, deadline, stage)
    }

    /// Reads until the echo of `line` (already sent) has come back; returns what followed
    /// the echoed line, dropping everything before it.
    fn read_echo(
        &mut self,
        line: &str,
        deadline: &Deadline,
        stage: Stage,
    ) -> Result<Vec<u8>, SessionError> {
        let echo = line.trim().as_bytes();
        let mut before: Vec<u8> = Vec::new();
        let mut searched: usize = 0;
        loop {
            let n = self.stream.read_some(&mut self.buf, deadline, stage)?;
            if n == 0 {
                return Err(SessionError::Lost {
                    stage,
                    source: None,
                });
            }
            before.extend_from_slice(&self.buf[..n]);
            let from = searched.saturating_sub(echo.len());
            if let Some(at) = find(&before[from..], echo).map(|i| i + from) {
                if let Some(nl) = before[at..].iter().position(|&b| b == b'\n') {
                    return Ok(before.split_off(at + nl + 1));
                }
            } else {
                searched = before.len();
            }
            if before.len() > 1024 * 1024 {
                // A device that never echoes what it is sent is not one netsweep can drive.
                return Err(SessionError::Protocol {
                    stage,
                    detail: format!("the device never echoed {line:?}"),
                    source: None,
                });
            }
        }
    }

    /// Reads a command's output into `collector` until the prompt ends it.
    fn read_output(
        &mut self,
        collector: &mut Collector,
        deadline: &Deadline,
        stage: Stage,
        question: Question<'_>,
    ) -> Result<(), SessionError> {
        let regexes = self.regexes();
        // The echo's read may already have brought the whole output.
        let mut fresh = false;
        // A question is answered once per time it appears: the answer's echo follows it.
        let mut answered_at: Option<usize> = None;
        loop {
            if fresh {
                let n = self.stream.read_some(&mut self.buf, deadline, stage)?;
                if n == 0 {
                    return Err(SessionError::Lost {
                        stage,
                        source: None,
                    });
                }
                collector.push(&self.buf[..n]);
            }
            fresh = true;
            let (last, last_len) = self.last_line(collector.tail());
            if let Some(mode) = regexes.session_prompt(&last, &self.base) {
                collector.drop_last(last_len);
                self.drop_context(collector);
                self.prompt = last;
                self.mode = mode;
                return Ok(());
            }
            if let Some(pager) = &self.spec().pager
                && regexes.is_pager(&last)
            {
                collector.drop_last(last_len);
                self.stream
                    .write_all(pager.answer.as_bytes(), deadline, stage)?;
            }
            if let Some((asks, answer)) = question
                && asks(&last)
                && answered_at != Some(collector.tail().len())
            {
                answered_at = Some(collector.tail().len());
                let mut bytes = answer.as_bytes().to_vec();
                bytes.extend_from_slice(self.spec().line_ending.as_bytes());
                self.stream.write_all(&bytes, deadline, stage)?;
            }
        }
    }

    /// Drops the line that belongs to the prompt below it (Junos' `{master:0}`) from the end
    /// of an output, with the line break before it.
    fn drop_context(&self, collector: &mut Collector) {
        if self.spec().prompts.context.is_none() {
            return;
        }
        let tail = collector.tail();
        let breaks = tail
            .iter()
            .rev()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        let (line, len) = self.last_line(&tail[..tail.len() - breaks]);
        if self.regexes().is_context(line.trim()) {
            collector.drop_last(breaks + len);
        }
    }

    /// Leaves politely: the exit command, without waiting for an answer.
    pub(crate) fn close(mut self) {
        let deadline = Deadline::after(self.timeout.min(Duration::from_secs(2)));
        let exit = format!("{}{}", self.spec().exit, self.spec().line_ending);
        let _ = self
            .stream
            .write_all(exit.as_bytes(), &deadline, Stage::Close);
        self.stream.close(&deadline);
    }
}

/// A timeout while waiting for a prompt (the CLI's, or a login prompt) is a protocol error
/// when the device did talk (it just never showed anything prompt-like), and a timeout when it
/// stayed silent. `what` names the prompt waited for.
pub(crate) fn unrecognised(
    err: SessionError,
    seen: &[u8],
    stage: Stage,
    what: &str,
) -> SessionError {
    match err {
        SessionError::Timeout { .. } if seen.iter().any(|b| !b.is_ascii_whitespace()) => {
            let (text, _) = text::clean(seen, true);
            let line = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let shown: String = line.trim().chars().take(40).collect();
            SessionError::Protocol {
                stage,
                detail: format!(
                    "no {what} recognised in {} bytes of output (last line {shown:?})",
                    seen.len()
                ),
                source: None,
            }
        }
        other => other,
    }
}

enum EnableReply {
    Prompt(String, Mode),
    Password,
    Denied(String),
}

/// Reads until the last line is one `recognise` accepts; returns that line and what
/// `recognise` said of it. A device that talks but never shows a recognised line is a
/// protocol error when the deadline passes; a silent one, a timeout.
pub(crate) fn read_until_prompt<S: CliStream, T>(
    stream: &mut S,
    buf: &mut [u8],
    deadline: &Deadline,
    strip_ansi: bool,
    recognise: impl FnMut(&str) -> Option<T>,
) -> Result<(String, T), SessionError> {
    read_until_prompt_from(Vec::new(), stream, buf, deadline, strip_ansi, recognise)
}

fn read_until_prompt_from<S: CliStream, T>(
    mut seen: Vec<u8>,
    stream: &mut S,
    buf: &mut [u8],
    deadline: &Deadline,
    strip_ansi: bool,
    mut recognise: impl FnMut(&str) -> Option<T>,
) -> Result<(String, T), SessionError> {
    let stage = Stage::Prompt;
    loop {
        let (line, _) = text::last_line(&seen, strip_ansi);
        if let Some(found) = recognise(&line) {
            return Ok((line, found));
        }
        let n = stream
            .read_some(buf, deadline, stage)
            .map_err(|e| unrecognised(e, &seen, Stage::Prompt, "prompt"))?;
        if n == 0 {
            return Err(SessionError::Lost {
                stage,
                source: None,
            });
        }
        seen.extend_from_slice(&buf[..n]);
        if seen.len() > 1024 * 1024 {
            let excess = seen.len() - 64 * 1024;
            seen.drain(..excess);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
