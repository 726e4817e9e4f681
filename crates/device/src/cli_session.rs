//! Driving a device's interactive CLI (IOS-like platforms), whatever transport carries it:
//! learn the prompt, turn paging off, enter privileged mode, run commands, clean their output.
//!
//! It runs over any [`CliStream`] (an SSH shell channel, a telnet connection) and must not
//! know which: no transport types, no transport errors. Every read is bounded by a deadline.
//! Command output is framed by the command's echo and the next prompt, so stray prompts or
//! banners left over from earlier never shift it. Nothing here knows a platform by name: the
//! [`Driver`] table says what to do.

use std::time::{Duration, Instant};

use netsweep_protocol::{CommandOutput, Secret, Stage};

use crate::cli_stream::CliStream;
use crate::deadline::{Deadline, OverallDeadline};
use crate::error::{CommandFailure, SessionError};
use crate::platform::Driver;
use crate::text::{self, Collector};
use crate::{MAX_OUTPUT_BYTES, ms_since};

const READ_CHUNK: usize = 64 * 1024;

/// A question a command may ask (a test on the output's last line) and the answer to type.
type Question<'q> = Option<(&'q dyn Fn(&str) -> bool, &'q str)>;

/// A device's CLI with a learned prompt, over the stream `S`.
pub(crate) struct CliSession<'d, S: CliStream> {
    stream: S,
    driver: &'d Driver,
    /// The prompt without its mode suffix and terminator (`r1` for `r1>`), which every later
    /// prompt of the session starts with.
    base: String,
    /// The latest full prompt (`r1>`, `r1#`).
    prompt: String,
    /// Each exchange's own time limit; the device's overall deadline caps it.
    timeout: Duration,
    overall: OverallDeadline,
    buf: Vec<u8>,
}

impl<'d, S: CliStream> CliSession<'d, S> {
    /// Learns the prompt over a freshly logged-in `stream` (stage `prompt`), within
    /// `deadline`: the prompt stage's, which opening the stream may have used already. Paging
    /// is not touched yet.
    pub(crate) fn start(
        stream: S,
        driver: &'d Driver,
        timeout: Duration,
        overall: OverallDeadline,
        deadline: &Deadline,
    ) -> Result<CliSession<'d, S>, SessionError> {
        let mut session = CliSession {
            stream,
            driver,
            base: String::new(),
            prompt: String::new(),
            timeout,
            overall,
            buf: vec![0; READ_CHUNK],
        };
        session.learn_prompt(deadline)?;
        Ok(session)
    }

    /// The prompt as last seen.
    pub(crate) fn prompt(&self) -> &str {
        &self.prompt
    }

    /// Sends a newline and takes the last line that comes back looking like a prompt.
    fn learn_prompt(&mut self, deadline: &Deadline) -> Result<(), SessionError> {
        let stage = Stage::Prompt;
        self.stream.write_all(b"\n", deadline, stage)?;
        let mut seen: Vec<u8> = Vec::new();
        loop {
            let n = self
                .stream
                .read_some(&mut self.buf, deadline, stage)
                .map_err(|e| self.no_prompt(e, &seen))?;
            if n == 0 {
                return Err(SessionError::Lost {
                    stage,
                    source: None,
                });
            }
            seen.extend_from_slice(&self.buf[..n]);
            if seen.len() > 1024 * 1024 {
                let excess = seen.len() - 64 * 1024;
                seen.drain(..excess);
            }
            let (line, _) = text::last_line(&seen);
            if self.driver.prompt.looks_like_prompt(&line) {
                self.set_prompt(line);
                tracing::debug!(prompt = %self.prompt, "learned the prompt");
                return Ok(());
            }
        }
    }

    /// A timeout while learning the prompt is a protocol error when the device did talk (it
    /// just never showed anything prompt-like), and a timeout when it stayed silent.
    fn no_prompt(&self, err: SessionError, seen: &[u8]) -> SessionError {
        match err {
            SessionError::Timeout { .. } if seen.iter().any(|b| !b.is_ascii_whitespace()) => {
                let (text, _) = text::clean(seen);
                let line = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                let shown: String = line.trim().chars().take(40).collect();
                SessionError::Protocol {
                    stage: Stage::Prompt,
                    detail: format!(
                        "no prompt recognised in {} bytes of output (last line {shown:?})",
                        seen.len()
                    ),
                    source: None,
                }
            }
            other => other,
        }
    }

    fn set_prompt(&mut self, line: String) {
        let terminators = self.driver.prompt.terminators;
        self.base = line
            .trim_end_matches(|c| terminators.contains(c))
            .to_string();
        // A mode suffix such as `(config)` is not part of the base.
        if let Some(i) = self.base.find('(') {
            self.base.truncate(i);
        }
        self.prompt = line;
    }

    /// Runs the driver's paging-off commands. A device that rejects them still works: the
    /// pager is answered instead.
    pub(crate) fn prepare(&mut self) -> Result<(), SessionError> {
        for command in self.driver.session_setup {
            match self.run(command, Stage::Prompt) {
                Ok(out) if out.error.is_some() => {
                    tracing::debug!(command, error = ?out.error, "set-up command rejected");
                }
                Ok(_) => {}
                Err(f) => return Err(f.error),
            }
        }
        Ok(())
    }

    /// Enters privileged mode. Already-privileged logins (privilege 15) send nothing; a device
    /// that grants it without a password gets no secret. With no secret configured and a
    /// device that asks for one, the session stays in user mode (a secret is how a sweep says
    /// it needs privileged mode).
    pub(crate) fn enable(&mut self, secret: Option<&Secret>) -> Result<(), SessionError> {
        let stage = Stage::Enable;
        let Some(spec) = self.driver.enable else {
            return Ok(());
        };
        if self.driver.prompt.is_privileged(&self.prompt) {
            return Ok(());
        }
        let deadline = self.overall.within(self.timeout);
        let mut seen = self.send_line(spec.command, &deadline, stage)?;
        match self.read_enable_reply(&mut seen, &deadline, true)? {
            EnableReply::Prompt(line) => return self.finish_enable(line, &seen),
            EnableReply::Denied(line) => {
                return Err(SessionError::EnableRejected { detail: Some(line) });
            }
            EnableReply::Password => {}
        }
        let Some(secret) = secret else {
            // Leave the password prompt without guessing (an empty answer, as many times as
            // the device asks, within reason), and carry on in user mode.
            for _ in 0..3 {
                self.stream.write_all(b"\n", &deadline, stage)?;
                seen.clear();
                match self.read_enable_reply(&mut seen, &deadline, false)? {
                    EnableReply::Prompt(line) => {
                        tracing::debug!("no enable secret configured; staying in user mode");
                        self.set_prompt(line);
                        return Ok(());
                    }
                    EnableReply::Denied(_) | EnableReply::Password => {}
                }
            }
            return Err(SessionError::NoEnableSecret);
        };
        let mut answer = secret.expose().as_bytes().to_vec();
        answer.push(b'\n');
        self.stream.write_all(&answer, &deadline, stage)?;
        seen.clear();
        match self.read_enable_reply(&mut seen, &deadline, true)? {
            EnableReply::Prompt(line) => self.finish_enable(line, &seen),
            EnableReply::Denied(line) => Err(SessionError::EnableRejected { detail: Some(line) }),
            EnableReply::Password => Err(SessionError::EnableRejected {
                detail: Some("the device asked for the secret again".into()),
            }),
        }
    }

    fn finish_enable(&mut self, line: String, seen: &[u8]) -> Result<(), SessionError> {
        if self.driver.prompt.is_privileged(&line) {
            self.set_prompt(line);
            Ok(())
        } else {
            let (text, _) = text::clean(seen);
            let detail = text
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with('%'))
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
        let Some(spec) = self.driver.enable else {
            return Err(SessionError::EnableRejected { detail: None });
        };
        loop {
            let (text, _) = text::clean(seen);
            if let Some(line) = text
                .lines()
                .map(str::trim)
                .find(|l| spec.denied_markers.iter().any(|m| l.starts_with(m)))
                .filter(|_| stop_at_denial)
            {
                return Ok(EnableReply::Denied(line.to_string()));
            }
            let (line, _) = text::last_line(seen);
            let lower = line.to_ascii_lowercase();
            if spec.password_prompts.iter().any(|p| lower.ends_with(p)) {
                return Ok(EnableReply::Password);
            }
            if self.driver.prompt.matches(&self.base, &line) {
                return Ok(EnableReply::Prompt(line));
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
        match self.read_output(&mut collector, &deadline, stage, question) {
            Ok(()) => {
                let (body, truncated) = collector.into_body();
                Ok(text::command_output(
                    command,
                    &body,
                    truncated,
                    self.driver.error_markers,
                    ms_since(started),
                ))
            }
            Err(error) => {
                // Whatever arrived is kept: a partial configuration is still worth having.
                let (body, _) = collector.into_body();
                let partial = text::command_output(
                    command,
                    &body,
                    true,
                    self.driver.error_markers,
                    ms_since(started),
                );
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
        bytes.push(b'\n');
        self.stream.write_all(&bytes, deadline, stage)?;
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
            let (last, last_len) = text::last_line(collector.tail());
            if self.driver.prompt.matches(&self.base, &last) {
                collector.drop_last(last_len);
                self.prompt = last;
                return Ok(());
            }
            if let Some(marker) = self.driver.pager_marker
                && last.trim_start().starts_with(marker)
            {
                collector.drop_last(last_len);
                self.stream.write_all(b" ", deadline, stage)?;
            }
            if let Some((asks, answer)) = question
                && asks(&last)
                && answered_at != Some(collector.tail().len())
            {
                answered_at = Some(collector.tail().len());
                let mut bytes = answer.as_bytes().to_vec();
                bytes.push(b'\n');
                self.stream.write_all(&bytes, deadline, stage)?;
            }
        }
    }

    /// Leaves politely: the exit command, without waiting for an answer.
    pub(crate) fn close(mut self) {
        let deadline = Deadline::after(self.timeout.min(Duration::from_secs(2)));
        let exit = format!("{}\n", self.driver.exit_command);
        let _ = self
            .stream
            .write_all(exit.as_bytes(), &deadline, Stage::Close);
        self.stream.close(&deadline);
    }
}

enum EnableReply {
    Prompt(String),
    Password,
    Denied(String),
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
