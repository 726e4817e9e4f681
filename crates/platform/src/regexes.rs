//! A platform's regexes, compiled once per process, and the questions the device client asks
//! of them: is this line a prompt (in which mode, with which base), a pager, a password
//! prompt; does this output hold a failure indicator.
//!
//! Prompts are only ever matched against the last line of what has arrived, and lines too
//! long to be a prompt are refused before any regex runs, so the per-read cost stays a few
//! hundred nanoseconds whatever the output size.
//!
//! Patterns are compiled with Unicode classes off: `\w`, `\d` and `\s` mean their ASCII
//! sets. Prompts and device messages are ASCII, and a Unicode `\w{1,63}` compiles to an
//! automaton hundreds of times larger (a third of a second to build, microseconds per match)
//! than the ASCII one. Literal non-ASCII text in a pattern still matches itself.

use regex::bytes::{Regex, RegexBuilder};

/// Compiles one platform pattern the way every platform pattern is compiled.
pub(crate) fn build(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).unicode(false).build()
}

use crate::spec::{Mode, PlatformSpec};

/// Longest line that can be a prompt, in bytes: output lines are longer.
pub const MAX_PROMPT_LEN: usize = 192;

/// The compiled regexes of one platform.
#[derive(Debug)]
pub struct Regexes {
    /// Checked in this order: a configuration prompt first, since on some platforms it also
    /// looks like a privileged one with a suffix.
    prompts: Vec<(Mode, Regex)>,
    context: Option<Regex>,
    password_prompt: Option<Regex>,
    denied: Option<Regex>,
    pager: Option<Regex>,
    errors: Option<Regex>,
    save_confirm: Option<Regex>,
    detect_ident: Option<Regex>,
    detect_output: Option<Regex>,
}

/// A line recognised as a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptMatch<'l> {
    /// The mode it shows.
    pub mode: Mode,
    /// Its `base` group (the host name part), or the whole line without a `base` group.
    pub base: &'l str,
}

fn whole_line(pattern: &str) -> Result<Regex, regex::Error> {
    build(&format!("^(?:{pattern})$"))
}

fn search(pattern: &str) -> Result<Regex, regex::Error> {
    build(pattern)
}

/// One regex that matches where any of `patterns` does, each searched line by line.
fn any_line(patterns: &[String]) -> Result<Option<Regex>, regex::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let joined: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    build(&format!("(?m){}", joined.join("|"))).map(Some)
}

impl Regexes {
    /// Compiles every regex of `spec`.
    pub fn compile(spec: &PlatformSpec) -> Result<Regexes, regex::Error> {
        let mut prompts = Vec::new();
        for mode in [Mode::Config, Mode::Privileged, Mode::User, Mode::Shell] {
            if let Some(p) = spec.prompt(mode) {
                prompts.push((mode, whole_line(p)?));
            }
        }
        let opt = |p: Option<&String>, f: fn(&str) -> Result<Regex, regex::Error>| {
            p.map(|p| f(p)).transpose()
        };
        Ok(Regexes {
            prompts,
            context: opt(spec.prompts.context.as_ref(), whole_line)?,
            password_prompt: opt(spec.enable.as_ref().map(|e| &e.password_prompt), search)?,
            denied: any_line(spec.enable.as_ref().map_or(&[][..], |e| &e.denied))?,
            pager: opt(spec.pager.as_ref().map(|p| &p.prompt), search)?,
            errors: any_line(&spec.errors)?,
            save_confirm: opt(
                spec.config
                    .as_ref()
                    .and_then(|c| c.save.as_ref())
                    .and_then(|s| s.confirm.as_ref())
                    .map(|c| &c.prompt),
                search,
            )?,
            detect_ident: opt(spec.detect.as_ref().and_then(|d| d.ident.as_ref()), search)?,
            detect_output: opt(spec.detect.as_ref().and_then(|d| d.output.as_ref()), search)?,
        })
    }

    /// Whether `line` (one line, `\r` and trailing blanks removed) is a prompt of any mode,
    /// and which.
    pub fn prompt<'l>(&self, line: &'l str) -> Option<PromptMatch<'l>> {
        if line.is_empty() || line.len() > MAX_PROMPT_LEN {
            return None;
        }
        for (mode, regex) in &self.prompts {
            if !regex.is_match(line.as_bytes()) {
                continue;
            }
            let base = regex
                .captures(line.as_bytes())
                .and_then(|c| c.name("base"))
                .and_then(|m| line.get(m.range()))
                .unwrap_or(line);
            return Some(PromptMatch { mode: *mode, base });
        }
        None
    }

    /// Whether `line` is this session's prompt: a prompt of any mode whose base is the
    /// session's `base` — or extends it with `-` (Huawei's `[host-GigabitEthernet0/0/1]`).
    /// A base that only starts the same (`r10` for `r1`) is another device's prompt in the
    /// output, not this one.
    pub fn session_prompt(&self, line: &str, base: &str) -> Option<Mode> {
        let found = self.prompt(line)?;
        let same = found.base == base
            || found
                .base
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('-'));
        same.then_some(found.mode)
    }

    /// Whether the platform's prompt regexes name a `base` group (without one, any prompt of
    /// the platform is taken as the session's).
    pub fn has_base(&self) -> bool {
        self.prompts
            .iter()
            .any(|(_, r)| r.capture_names().any(|n| n == Some("base")))
    }

    /// Whether `line` belongs to the prompt below it (Junos `{master:0}`).
    pub fn is_context(&self, line: &str) -> bool {
        self.context
            .as_ref()
            .is_some_and(|r| r.is_match(line.as_bytes()))
    }

    /// Whether `line` asks for the enable secret.
    pub fn asks_password(&self, line: &str) -> bool {
        self.password_prompt
            .as_ref()
            .is_some_and(|r| r.is_match(line.as_bytes()))
    }

    /// The first line of `output` that says privileged mode was refused.
    pub fn denial<'o>(&self, output: &'o str) -> Option<&'o str> {
        first_line_matching(self.denied.as_ref()?, output)
    }

    /// Whether `line` is the pager's prompt.
    pub fn is_pager(&self, line: &str) -> bool {
        self.pager
            .as_ref()
            .is_some_and(|r| r.is_match(line.as_bytes()))
    }

    /// The first line of `output` holding a failure indicator, trimmed.
    pub fn error_line<'o>(&self, output: &'o str) -> Option<&'o str> {
        first_line_matching(self.errors.as_ref()?, output)
    }

    /// Whether `line` asks to confirm a save.
    pub fn asks_save_confirmation(&self, line: &str) -> bool {
        self.save_confirm
            .as_ref()
            .is_some_and(|r| r.is_match(line.as_bytes()))
    }

    /// Whether an SSH ident names this platform (`None`: the platform gives no ident hint).
    pub fn ident_matches(&self, ident: &str) -> Option<bool> {
        self.detect_ident
            .as_ref()
            .map(|r| r.is_match(ident.as_bytes()))
    }

    /// Whether a detect command's output names this platform (`None`: no output hint).
    pub fn output_matches(&self, output: &str) -> Option<bool> {
        self.detect_output
            .as_ref()
            .map(|r| r.is_match(output.as_bytes()))
    }
}

fn first_line_matching<'o>(regex: &Regex, output: &'o str) -> Option<&'o str> {
    let m = regex.find(output.as_bytes())?;
    // `^\s*` may start on an earlier blank line: the line meant is where the match's text is.
    let text = m.as_bytes();
    let blank = text.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let at = if blank < m.len() {
        m.start() + blank
    } else {
        m.start()
    };
    // Line boundaries are found as bytes, so they are character boundaries whatever `at` is.
    let bytes = output.as_bytes();
    let start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(output.len(), |i| at + i);
    Some(output[start..end].trim())
}
