//! A network device's command line, run from its platform model: modes, abbreviations, the
//! caret under a bad word, and command outputs rendered from the device's facts.
//!
//! Configuration changes reach the device's state ([`crate::config_state`], shared by all its
//! sessions) the way the platform table's configuration data says: a line accepted in a
//! configuration mode is applied (or joins the session's candidate where the platform
//! commits), the table's commit and abort act on the candidate, its save is counted, and the
//! running configuration's output lists the added lines where its model puts `{{changes}}`.
//!
//! Pure logic: a line goes in, text and the next step come out. Echo, paging, latency and
//! faults are the session's job ([`crate::session`]), so everything here can be checked
//! without a socket. Text uses `\n`; the session sends `\r\n`, as a PTY does.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::config_state::{Candidate, ConfigStyle, DeviceConfig};
use crate::facts::{Facts, SessionVars};
use crate::model::{Action, Command, Level, Model, Simple, Word};
use crate::template::{self, Vars};

/// What the session should do after a line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Print this, then the prompt.
    Print(String),
    /// Print a command's output (subject to latency, paging and output faults), then the
    /// prompt.
    Show(String),
    /// Ask for the enable secret (the model's question) and hand the answer to
    /// [`DeviceCli::enable_answer`].
    AskEnableSecret(String),
    /// Ask `question`, read a line, print `yes` for an answer starting with y, else `no`.
    Confirm {
        question: String,
        yes: String,
        no: String,
    },
    /// Log out.
    Exit,
}

/// Why a line did not resolve to a command.
#[derive(Debug, PartialEq, Eq)]
enum ParseError {
    /// Nothing fits the word at byte `column` of the line.
    Invalid { column: usize, word: String },
    /// The line stops before a command is complete.
    Incomplete,
    /// The word at byte `column` is a prefix of several keywords.
    Ambiguous { column: usize, word: String },
}

/// One session's command-line state.
pub(crate) struct DeviceCli {
    model: &'static Model,
    /// Shown in prompts; a `hostname` command changes it for the session.
    pub hostname: String,
    pub username: String,
    pub mode: String,
    /// Lines per page; 0: paging off.
    pub page_lines: usize,
    /// Whether `{{bold}}`, `{{green}}`… render as ANSI colours.
    pub colours: bool,
    /// The device's configuration, shared with its other sessions.
    config: Arc<DeviceConfig>,
    /// How the platform commits, aborts and saves (the platform table's).
    style: ConfigStyle,
    /// This session's uncommitted lines (platforms that commit).
    candidate: Candidate,
    /// A save waits for its question's answer.
    save_asked: bool,
}

/// Splits a line into words with their byte offsets.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

/// Resolves a line against the commands available in a mode, the way IOS-family CLIs do:
/// each word may be any prefix that names one keyword; the caret points at the first word
/// that fits nothing. Returns the command's index, its argument words and the rest of the
/// line for a `<rest>`.
fn resolve<'l>(
    line: &'l str,
    commands: &[Command],
    available: &[usize],
) -> Result<(usize, Vec<&'l str>, &'l str), ParseError> {
    let typed = words(line);
    let mut candidates: Vec<usize> = available.to_vec();
    let mut args = Vec::new();
    let word_at = |c: usize, pos: usize| commands[c].words.get(pos);
    for (pos, &(offset, word)) in typed.iter().enumerate() {
        // A `<rest>` already reached swallows this and every later word.
        if let Some(&rest) = candidates
            .iter()
            .find(|&&c| word_at(c, pos) == Some(&Word::Rest))
        {
            return Ok((rest, args, line[offset..].trim_end()));
        }
        let lower = word.to_ascii_lowercase();
        let fits = |w: &Word| match w {
            Word::Key(k) => k.starts_with(&lower),
            Word::Arg | Word::Rest => true,
            Word::Num => word.parse::<u32>().is_ok(),
        };
        let matching: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&c| word_at(c, pos).is_some_and(fits))
            .collect();
        if matching.is_empty() {
            return Err(ParseError::Invalid {
                column: offset,
                word: word.to_owned(),
            });
        }
        let exact: Vec<usize> = matching
            .iter()
            .copied()
            .filter(|&c| matches!(word_at(c, pos), Some(Word::Key(k)) if *k == lower))
            .collect();
        let keys: BTreeSet<&str> = matching
            .iter()
            .filter_map(|&c| match word_at(c, pos) {
                Some(Word::Key(k)) => Some(k.as_str()),
                _ => None,
            })
            .collect();
        candidates = if !exact.is_empty() {
            exact
        } else if keys.len() > 1 {
            return Err(ParseError::Ambiguous {
                column: offset,
                word: word.to_owned(),
            });
        } else {
            matching
        };
        if candidates
            .iter()
            .any(|&c| matches!(word_at(c, pos), Some(Word::Arg | Word::Num)))
        {
            args.push(word);
        }
    }
    let n = typed.len();
    candidates
        .iter()
        .copied()
        .find(|&c| {
            let w = &commands[c].words;
            w.len() == n || (w.len() == n + 1 && w[n] == Word::Rest)
        })
        .map(|c| (c, args, ""))
        .ok_or(ParseError::Incomplete)
}

impl DeviceCli {
    pub(crate) fn new(
        model: &'static Model,
        hostname: &str,
        username: &str,
        mode: &str,
    ) -> DeviceCli {
        DeviceCli {
            model,
            hostname: hostname.to_owned(),
            username: username.to_owned(),
            mode: mode.to_owned(),
            page_lines: model.paging.as_ref().map_or(0, |p| p.lines),
            colours: model.colours,
            config: Arc::default(),
            style: ConfigStyle::of(model.platform),
            candidate: Candidate::default(),
            save_asked: false,
        }
    }

    /// The session works on `config`, the device's configuration (without it, a session has
    /// a configuration of its own).
    pub(crate) fn with_configuration(mut self, config: Arc<DeviceConfig>) -> DeviceCli {
        self.config = config;
        self
    }

    /// The question a [`Step::Confirm`] asked was answered yes: a save asking it is done.
    pub(crate) fn confirmed(&mut self) {
        if std::mem::take(&mut self.save_asked) {
            self.config.save();
        }
    }

    /// Keeps what an accepted `line` (resolved to `command`, typed in `mode_before`) does
    /// to the device's configuration: commit, abort, save, or a configuration statement.
    fn track_configuration(&mut self, command: &Command, mode_before: &str, line: &str) {
        let line = line.trim();
        let in_config = self.model.modes[mode_before].level == Level::Config;
        if in_config && (self.style.is_commit(line) || self.style.abort.as_deref() == Some(line)) {
            self.config
                .take_line(&self.style, &mut self.candidate, line);
            return;
        }
        if let Some(save) = &self.style.save
            && save
                .split_whitespace()
                .eq(command.words.iter().map(|w| match w {
                    Word::Key(k) => k.as_str(),
                    _ => "\0",
                }))
        {
            match command.action {
                Some(Action::Confirm { .. }) => self.save_asked = true,
                _ => self.config.save(),
            }
            return;
        }
        let enters_config = |mode: &str| self.model.modes[mode].level == Level::Config;
        let statement = command.say.is_none()
            && command.show.is_none()
            && match &command.action {
                None => true,
                Some(Action::Mode { mode }) => enters_config(mode),
                Some(_) => false,
            };
        if !in_config || !statement {
            return;
        }
        // A line inside a sub-mode (an interface's) shows indented under the line that
        // entered it, as running configurations list them.
        let nested = self.model.modes[mode_before]
            .parent
            .as_deref()
            .is_some_and(enters_config);
        let shown = if nested && command.action.is_none() {
            format!(" {line}")
        } else {
            line.to_owned()
        };
        self.config
            .take_line(&self.style, &mut self.candidate, &shown);
    }

    fn level(&self) -> Level {
        self.model.modes[&self.mode].level
    }

    fn vars<'a>(&'a self, facts: &'a Facts, extra: &'a [(&'a str, String)]) -> SessionVars<'a> {
        SessionVars {
            facts,
            model: self.model,
            hostname: &self.hostname,
            username: &self.username,
            privilege: match self.level() {
                Level::Privileged | Level::Config => 15,
                Level::User => 1,
                Level::Shell => 0,
            },
            colours: self.colours,
            extra,
        }
    }

    fn render(&self, text: &str, facts: &Facts, extra: &[(&str, String)]) -> String {
        template::render(text, &self.vars(facts, extra))
    }

    /// A model text (a banner) rendered with this session's variables.
    pub(crate) fn render_text(&self, text: &str, facts: &Facts) -> String {
        self.render(text, facts, &[])
    }

    /// The prompt line alone (`r1#`, `[admin@MikroTik] > `).
    pub(crate) fn prompt_line(&self, facts: &Facts) -> String {
        self.render(&self.model.modes[&self.mode].prompt, facts, &[])
    }

    /// What ends an output: the line above the prompt, if the mode has one, and the prompt.
    pub(crate) fn prompt(&self, facts: &Facts) -> String {
        let mode = &self.model.modes[&self.mode];
        match &mode.above {
            Some(above) => format!(
                "{}\n{}",
                self.render(above, facts, &[]),
                self.prompt_line(facts)
            ),
            None => self.prompt_line(facts),
        }
    }

    /// Ctrl-Z: leaves configuration for the model's Ctrl-Z mode, where it has one.
    pub(crate) fn ctrl_z(&mut self) {
        if let Some(to) = &self.model.ctrl_z
            && self.level() == Level::Config
        {
            self.mode = to.clone();
        }
    }

    /// Runs one line typed at the prompt (without its line ending).
    pub(crate) fn execute(&mut self, line: &str, facts: &Facts) -> Step {
        if line.trim().is_empty() {
            return Step::Print(String::new());
        }
        let available = &self.model.tables[&self.mode];
        // RouterOS takes `/system …` and `system …` alike: the prefix is blanked, not cut,
        // so that columns in error messages still count from the line's start.
        let blanked;
        let line = match &self.model.optional_prefix {
            Some(prefix) if line.trim_start().starts_with(prefix.as_str()) => {
                let at = line.len() - line.trim_start().len();
                blanked = format!(
                    "{}{}{}",
                    &line[..at],
                    " ".repeat(prefix.len()),
                    &line[at + prefix.len()..]
                );
                blanked.as_str()
            }
            _ => line,
        };
        match resolve(line, &self.model.commands, available) {
            Ok((index, args, rest)) => {
                let model = self.model;
                let command = &model.commands[index];
                let mode_before = self.mode.clone();
                self.save_asked = false;
                let step = self.run(command, &args, rest, facts);
                self.track_configuration(command, &mode_before, line);
                step
            }
            Err(error) => Step::Print(self.error_text(error, line, facts)),
        }
    }

    fn error_text(&self, error: ParseError, line: &str, facts: &Facts) -> String {
        let errors = &self.model.errors;
        let (text, column, word) = match error {
            ParseError::Invalid { column, word } => (&errors.invalid, column, word),
            ParseError::Incomplete => (&errors.incomplete, line.trim_end().len(), String::new()),
            ParseError::Ambiguous { column, word } => (&errors.ambiguous, column, word),
        };
        let caret_at = self.prompt_line(facts).chars().count() + line[..column].chars().count();
        let extra = [
            ("caret", format!("{:caret_at$}^", "")),
            ("line", line.trim().to_owned()),
            ("word", word),
            ("column1", (line[..column].chars().count() + 1).to_string()),
        ];
        self.render(text, facts, &extra)
    }

    fn run(&mut self, command: &Command, args: &[&str], rest: &str, facts: &Facts) -> Step {
        match &command.action {
            None => {}
            Some(Action::Simple(Simple::Enable)) => {
                if self.level() != Level::User {
                    return Step::Print(String::new());
                }
                let question = self
                    .model
                    .enable
                    .as_ref()
                    .map_or_else(|| "Password: ".to_owned(), |e| e.prompt.clone());
                return Step::AskEnableSecret(self.render(&question, facts, &[]));
            }
            Some(Action::Simple(Simple::Exit)) => {
                match self.model.modes[&self.mode].parent.clone() {
                    Some(parent) => self.mode = parent,
                    None => return Step::Exit,
                }
            }
            Some(Action::Simple(Simple::Logout)) => return Step::Exit,
            Some(Action::Simple(Simple::PageLength)) => {
                self.page_lines = args.last().and_then(|a| a.parse().ok()).unwrap_or(24);
            }
            Some(Action::Simple(Simple::PagingOff)) => self.page_lines = 0,
            Some(Action::Simple(Simple::Hostname)) => {
                if let Some(name) = args.last() {
                    self.hostname = (*name).to_owned();
                }
            }
            Some(Action::Simple(Simple::Do)) => {
                let saved = self.mode.clone();
                if let Some(privileged) = &self.model.privileged {
                    self.mode = privileged.clone();
                }
                let line = format!("{} {rest}", args.first().copied().unwrap_or(""));
                let step = self.execute(line.trim(), facts);
                self.mode = saved;
                return match step {
                    Step::Exit | Step::AskEnableSecret(_) | Step::Confirm { .. } => {
                        Step::Print(String::new())
                    }
                    other => other,
                };
            }
            Some(Action::Mode { mode }) => self.mode = mode.clone(),
            Some(Action::Confirm {
                confirm,
                accepted,
                declined,
            }) => {
                return Step::Confirm {
                    question: self.render(confirm, facts, &[]),
                    yes: self.render(accepted, facts, &[]),
                    no: self.render(declined, facts, &[]),
                };
            }
        }
        let arg = [("arg", args.last().copied().unwrap_or_default().to_owned())];
        match (&command.show, &command.say) {
            (Some(show), _) => {
                let changes: String = self
                    .config
                    .added_lines()
                    .iter()
                    .map(|l| format!("{l}\n"))
                    .collect();
                Step::Show(self.show(show, command.pad.as_deref(), facts, &arg, &changes))
            }
            (None, Some(say)) => Step::Print(self.render(say, facts, &arg)),
            (None, None) => Step::Print(String::new()),
        }
    }

    /// A command's output; `{{pad}}` repeats `pad` until the output reaches the device's
    /// running-configuration size, and `{{size}}` is the size, in bytes as sent (`\r\n`
    /// lines), of everything after the line holding it — IOS' `Current configuration : N
    /// bytes`. `{{changes}}` is the lines configuration changes added, on top of the padded
    /// size (a change adds to the configuration, as on the device).
    fn show(
        &self,
        show: &str,
        pad: Option<&str>,
        facts: &Facts,
        extra: &[(&str, String)],
        changes: &str,
    ) -> String {
        const SIZE_MARK: &str = "\u{0}size\u{0}";
        const CHANGES_MARK: &str = "\u{0}changes\u{0}";
        let mut marks = vec![
            ("size", SIZE_MARK.to_owned()),
            ("pad", "\u{0}pad\u{0}".to_owned()),
            ("changes", CHANGES_MARK.to_owned()),
        ];
        marks.extend(extra.iter().cloned());
        let text = self.render(show, facts, &marks);
        let unpadded =
            facts.running_config_bytes + text.matches(CHANGES_MARK).count() * CHANGES_MARK.len();
        let text = match (pad, text.split_once("\u{0}pad\u{0}")) {
            (Some(block), Some((head, tail))) => {
                let mut out = String::with_capacity(facts.running_config_bytes + 1024);
                out.push_str(head);
                let mut n = 1usize;
                while out.len() + tail.len() < unpadded {
                    let extra = [("n", n.to_string()), ("vlan", (n % 4094 + 1).to_string())];
                    out.push_str(&template::render(block, &PadVars(&extra)));
                    n += 1;
                }
                out.push_str(tail);
                out
            }
            _ => text,
        };
        let text = text.replace(CHANGES_MARK, changes);
        match text.find(SIZE_MARK) {
            Some(at) => {
                let after = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                let body = &text[after..];
                let size = body.len() + body.matches('\n').count();
                text.replacen(SIZE_MARK, &size.to_string(), 1)
            }
            None => text,
        }
    }

    /// The answer to the enable password question.
    pub(crate) fn enable_answer(
        &mut self,
        answer: &str,
        secret: &str,
        refuse: bool,
        facts: &Facts,
    ) -> String {
        let Some(enable) = &self.model.enable else {
            return String::new();
        };
        if !refuse && answer == secret {
            self.mode = enable.to.clone();
            String::new()
        } else {
            self.render(&enable.denied, facts, &[])
        }
    }
}

/// The variables of one `pad` block: its number and a VLAN.
struct PadVars<'a>(&'a [(&'a str, String)]);

impl Vars for PadVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;

    fn facts() -> Facts {
        Facts::new(7, "r1", 0, 4096, "FTX")
    }

    fn ios(privileged: bool) -> DeviceCli {
        let m = model("cisco_ios").unwrap();
        DeviceCli::new(
            m,
            "r1",
            "admin",
            if privileged { "privileged" } else { "user" },
        )
    }

    #[test]
    fn abbreviations_resolve_like_ios() {
        let mut cli = ios(false);
        let f = facts();
        assert!(matches!(cli.execute("en", &f), Step::AskEnableSecret(q) if q == "Password: "));
        assert!(matches!(cli.execute("sh ver", &f), Step::Show(s) if s.contains("uptime is")));
        assert!(matches!(cli.execute("term len 0", &f), Step::Print(s) if s.is_empty()));
        assert_eq!(cli.page_lines, 0);
        cli.mode = "privileged".into();
        assert!(matches!(cli.execute("sh run", &f), Step::Show(s) if s.contains("hostname r1")));
        cli.execute("conf t", &f);
        assert_eq!(cli.prompt(&f), "r1(config)#");
        cli.execute("interface Gi0/1", &f);
        assert_eq!(cli.prompt(&f), "r1(config-if)#");
        cli.execute("end", &f);
        assert_eq!(cli.prompt(&f), "r1#");
    }

    #[test]
    fn invalid_input_puts_the_caret_under_the_bad_word() {
        let mut cli = ios(false);
        let f = facts();
        // "r1>" is 3 columns, "show " 5 more: the caret sits under "running-config".
        match cli.execute("show running-config", &f) {
            Step::Print(s) => {
                assert_eq!(s, "        ^\n% Invalid input detected at '^' marker.\n\n")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            cli.execute("show", &f),
            Step::Print("% Incomplete command.\n\n".into())
        );
        assert!(matches!(cli.execute("e", &f), Step::Print(s) if s.contains("Ambiguous")));
    }

    #[test]
    fn a_committing_platform_keeps_lines_in_the_candidate_until_commit() {
        let f = facts();
        let config = Arc::new(DeviceConfig::default());
        let xr = model("cisco_xr").unwrap();
        let session = || {
            DeviceCli::new(xr, "r1", "admin", "privileged").with_configuration(Arc::clone(&config))
        };
        let mut cli = session();
        for line in ["configure terminal", "interface Gi0/0/0/1", "description a"] {
            cli.execute(line, &f);
        }
        assert!(config.added_lines().is_empty());
        cli.execute("abort", &f);
        assert_eq!(cli.mode, "privileged");
        for line in [
            "configure terminal",
            "interfaze Gi0/0/0/2",
            "interface Gi0/0/0/2",
            "description b",
            "commit",
            "end",
        ] {
            cli.execute(line, &f);
        }
        // The refused line and the aborted candidate are not there; the sub-mode's line is
        // indented under the line that entered it.
        assert_eq!(
            config.added_lines(),
            ["interface Gi0/0/0/2", " description b"]
        );
        let Step::Show(text) = session().execute("show running-config", &f) else {
            panic!("no output");
        };
        assert!(
            text.contains("\ninterface Gi0/0/0/2\n description b\n"),
            "{text}"
        );
        assert_eq!(config.counts().commits, 1);
    }

    #[test]
    fn running_config_reaches_its_size() {
        let f = Facts::new(7, "r1", 0, 2 * 1024 * 1024, "FTX");
        let mut cli = ios(true);
        let Step::Show(text) = cli.execute("show running-config", &f) else {
            panic!("no output");
        };
        assert!(text.len() >= 2 * 1024 * 1024, "{}", text.len());
        assert!(text.ends_with("end\n"));
        assert!(
            text.contains("\nCurrent configuration : 2"),
            "{}",
            &text[..200]
        );
    }
}
