//! Reading a TextFSM template into a compiled state machine.
//!
//! The grammar is Python textfsm 2.1's, rule for rule: `Value [Options] Name (regex)` lines
//! up to the first blank line, then states (a name, then rules indented by one or two
//! spaces or a tab, up to a blank line), `# comments`, `${Name}`/`$Name` substitution with
//! `$$` for a literal `$` (Python's `string.Template`), actions `Next`/`Continue`/`Error`
//! with `.Record`/`.NoRecord`/`.Clear`/`.Clearall` and a new state, and the same checks
//! (a `Start` state, empty `End`/`EOF` states, known destinations). Each error names the
//! template line.
//!
//! Matching is compiled here too. A state's rules are tried in order and the first that
//! matches at the start of the line wins; one anchored multi-pattern search
//! (regex-automata, leftmost-first: the earliest pattern that matches wins) answers that for
//! a run of rules at once. A rule that needs a backtracking engine (look-around,
//! back-references) is its own run, matched by fancy-regex. After a `Continue` the search
//! resumes at the next rule; the run starting there is compiled the first time it is
//! needed and kept.
//!
//! This module must not run the machine over input: that is `fsm`.

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};

use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;

use crate::error::TemplateError;
use crate::pyre::{self, Translated};

/// Longest value or state name Python textfsm accepts.
const MAX_NAME_LEN: usize = 48;

/// A `Value` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueOption {
    Required,
    Filldown,
    Fillup,
    Key,
    List,
}

/// A `Value` line.
#[derive(Debug)]
pub(crate) struct ValueDef {
    pub name: String,
    /// In the order the template gives them: Python runs option hooks in that order, and
    /// `Required` before `List` sees another value than `List` before `Required`.
    pub options: Vec<ValueOption>,
    pub filldown: bool,
    /// For a `List` value whose regex has more than one group: the regex itself, whose
    /// named groups make a dictionary item.
    pub nested: Option<Engine>,
}

/// The line operator of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineOp {
    Next,
    Continue,
    Error,
}

/// The record operator of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordOp {
    NoRecord,
    Record,
    Clear,
    Clearall,
}

/// Where a matching rule sends the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Stay,
    State(usize),
    /// `End`: stop, no implicit record.
    End,
    /// `EOF`: stop; the implicit record is still made unless the template declares `EOF`.
    Eof,
}

/// A compiled regular expression of either engine, anchored at the start of the text.
#[derive(Debug)]
pub(crate) enum Engine {
    Automaton(meta::Regex),
    Backtracking(fancy_regex::Regex),
}

/// A rule of a state.
#[derive(Debug)]
pub(crate) struct Rule {
    pub line: usize,
    pub line_op: LineOp,
    pub record_op: RecordOp,
    pub target: Target,
    /// The `Error` action's message.
    pub message: Option<String>,
    /// The translated pattern (for the automaton runs this rule is part of).
    pattern: String,
    /// The rule's own matcher when it needs backtracking.
    pub backtracking: Option<fancy_regex::Regex>,
    /// The rule alone with its groups, for the groups once a run found that it matches:
    /// ASCII (`None` when it cannot be built) and Unicode, each compiled when first needed.
    ascii_groups: OnceLock<Option<meta::Regex>>,
    unicode_groups: OnceLock<Result<meta::Regex, String>>,
    /// (capture group index, value index) for every named group that is a value, in
    /// group order (Python assigns in `groupdict()` order).
    pub assign: Vec<(usize, usize)>,
}

impl Rule {
    /// The rule's regex with its groups, for a line found to match it.
    pub(crate) fn groups_regex(&self, ascii_line: bool) -> Result<(&meta::Regex, bool), String> {
        if ascii_line
            && let Some(regex) = self
                .ascii_groups
                .get_or_init(|| automaton(&[&self.pattern], false, true).ok())
        {
            return Ok((regex, false));
        }
        self.unicode_groups
            .get_or_init(|| automaton(&[&self.pattern], true, true))
            .as_ref()
            .map(|regex| (regex, true))
            .map_err(Clone::clone)
    }
}

/// A run of automaton rules `first..end` of a state, searched at once.
///
/// Two compilations of the same patterns: with ASCII classes for lines that are ASCII
/// (on ASCII text `\s`, `\w`, `\d`, `\b` and case folding mean the same in both, and the
/// ASCII automaton is a fraction of the size and compile time of the Unicode one), and
/// with Unicode classes, compiled the first time a line is not ASCII.
#[derive(Debug)]
pub(crate) struct Run {
    pub first: usize,
    pub end: usize,
    ascii: Option<meta::Regex>,
    unicode: OnceLock<Result<meta::Regex, String>>,
}

impl Run {
    /// The regex for a line, and whether it is the Unicode one.
    pub(crate) fn regex(
        &self,
        rules: &[Rule],
        ascii_line: bool,
    ) -> Result<(&meta::Regex, bool), String> {
        if ascii_line && let Some(regex) = &self.ascii {
            return Ok((regex, false));
        }
        self.unicode
            .get_or_init(|| build_many(rules, self.first, self.end, true).map_err(|(_, e)| e))
            .as_ref()
            .map(|regex| (regex, true))
            .map_err(Clone::clone)
    }
}

/// A state and its rules.
#[derive(Debug)]
pub(crate) struct State {
    pub rules: Vec<Rule>,
    /// The run starting at each rule index, compiled when first needed.
    runs: Vec<OnceLock<Result<Run, String>>>,
    /// Index of this state's first rule among all rules of the template (for per-parse
    /// caches indexed by rule).
    pub base: usize,
}

/// A compiled TextFSM template: immutable, shareable between threads, reusable for any
/// number of parses.
#[derive(Debug)]
pub struct Template {
    pub(crate) values: Vec<ValueDef>,
    /// `Start` first.
    pub(crate) states: Vec<State>,
    /// A declared (empty) `EOF` state suppresses the implicit record at the end of input.
    pub(crate) eof_declared: bool,
    pub(crate) rule_count: usize,
    origin: Option<PathBuf>,
}

impl Template {
    /// Reads and compiles a template.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Self::parse_from(text, None)
    }

    /// Reads and compiles a template file.
    pub fn from_file(path: &Path) -> Result<Template, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError {
            origin: Some(path.to_path_buf()),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse_from(&text, Some(path.to_path_buf()))
    }

    /// Reads and compiles a template, naming `origin` in errors.
    pub fn parse_from(text: &str, origin: Option<PathBuf>) -> Result<Template, TemplateError> {
        Reader::new(text, origin).read()
    }

    /// The column names, in `Value` order.
    pub fn header(&self) -> Vec<String> {
        self.values.iter().map(|v| v.name.clone()).collect()
    }

    /// The columns marked `Key`.
    pub fn keys(&self) -> Vec<String> {
        self.values
            .iter()
            .filter(|v| v.options.contains(&ValueOption::Key))
            .map(|v| v.name.clone())
            .collect()
    }

    /// Where the template came from, if a file.
    pub fn origin(&self) -> Option<&Path> {
        self.origin.as_deref()
    }

    /// Compiles now what a parse of ASCII text would compile when first needed: the
    /// automaton of every run of rules a line can be tried from, and the groups of every
    /// rule that assigns a value.
    ///
    /// Why: a process pool's workers are forked from one server; what it compiles before
    /// forking, every worker has for free, where each would otherwise compile the same
    /// automata on its first device. Errors are left for the parse that meets them.
    pub fn prepare(&self) {
        for state in &self.states {
            // Where a line's search can start: the first rule, the rule after each
            // `Continue`, and the rule after each run (the next backtracking rule or beyond).
            let mut starts: Vec<usize> = std::iter::once(0)
                .chain(
                    state
                        .rules
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.line_op == LineOp::Continue)
                        .map(|(i, _)| i + 1),
                )
                .collect();
            while let Some(from) = starts.pop() {
                if from >= state.rules.len() {
                    continue;
                }
                match state.run(from) {
                    Ok(Some(run)) if run.end < state.rules.len() => starts.push(run.end),
                    Ok(None) => starts.push(from + 1),
                    _ => {}
                }
            }
            for rule in state.rules.iter().filter(|r| !r.assign.is_empty()) {
                let _ = rule.groups_regex(true);
            }
        }
    }
}

impl State {
    /// The run of automaton rules starting at rule `from`, up to the next backtracking
    /// rule (`None` when `from` is itself a backtracking rule).
    pub(crate) fn run(&self, from: usize) -> Result<Option<&Run>, String> {
        if self.rules[from].backtracking.is_some() {
            return Ok(None);
        }
        self.runs[from]
            .get_or_init(|| build_run(&self.rules, from).map_err(|(_, e)| e))
            .as_ref()
            .map(Some)
            .map_err(Clone::clone)
    }
}

fn run_end(rules: &[Rule], from: usize) -> usize {
    (from..rules.len())
        .find(|&i| rules[i].backtracking.is_some())
        .unwrap_or(rules.len())
}

fn automaton_config(unicode: bool) -> (meta::Config, regex_automata::util::syntax::Config) {
    // Unicode classes (`\w`, `\s`) repeated a few hundred times exceed the default limits;
    // templates are trusted input, so allow more.
    let meta = meta::Config::new()
        .nfa_size_limit(Some(64 << 20))
        .utf8_empty(unicode);
    let syntax = regex_automata::util::syntax::Config::new()
        .unicode(unicode)
        .utf8(unicode);
    (meta, syntax)
}

fn automaton(patterns: &[&str], unicode: bool, groups: bool) -> Result<meta::Regex, String> {
    let (config, syntax) = automaton_config(unicode);
    let which = if groups {
        WhichCaptures::All
    } else {
        WhichCaptures::Implicit
    };
    meta::Builder::new()
        .configure(config.which_captures(which))
        .syntax(syntax)
        .build_many(patterns)
        .map_err(|e| e.to_string())
}

/// Compiles rules `from..end`; the error names the rule that failed.
fn build_many(
    rules: &[Rule],
    from: usize,
    end: usize,
    unicode: bool,
) -> Result<meta::Regex, (usize, String)> {
    let patterns: Vec<&str> = rules[from..end]
        .iter()
        .map(|r| r.pattern.as_str())
        .collect();
    automaton(&patterns, unicode, false).map_err(|error| {
        // Say which rule: compile them one by one.
        for (offset, pattern) in patterns.iter().enumerate() {
            if let Err(e) = automaton(&[pattern], unicode, false) {
                return (from + offset, e);
            }
        }
        (from, error)
    })
}

/// Compiles the run of automaton rules starting at `from`: the ASCII form now, the
/// Unicode form now only if the ASCII one cannot be built (a non-ASCII literal, say).
fn build_run(rules: &[Rule], from: usize) -> Result<Run, (usize, String)> {
    let end = run_end(rules, from);
    let unicode = OnceLock::new();
    let ascii = match build_many(rules, from, end, false) {
        Ok(regex) => Some(regex),
        Err(_) => {
            let _ = unicode.set(Ok(build_many(rules, from, end, true)?));
            None
        }
    };
    Ok(Run {
        first: from,
        end,
        ascii,
        unicode,
    })
}

/// Compiles a pattern for the engine it needs.
pub(crate) fn compile(translated: &Translated) -> Result<Engine, String> {
    if translated.backtracking {
        fancy(&translated.pattern).map(Engine::Backtracking)
    } else {
        automaton(&[&translated.pattern], true, true).map(Engine::Automaton)
    }
}

fn fancy(pattern: &str) -> Result<fancy_regex::Regex, String> {
    // `\A` anchors at the start as Python's `re.match` does; the group keeps alternatives
    // of the pattern under the anchor.
    fancy_regex::Regex::new(&format!(r"\A(?:{pattern})")).map_err(|e| e.to_string())
}

static ACTION: LazyLock<meta::Regex> = LazyLock::new(|| {
    meta::Regex::new(
        r#"^\s+(?P<ln_op>Continue|Next|Error)(\.(?P<rec_op>Clear|Clearall|Record|NoRecord))?(\s+(?P<new_state>\w+|".*"))?$"#,
    )
    .expect("fixed pattern")
});
static ACTION_RECORD: LazyLock<meta::Regex> = LazyLock::new(|| {
    meta::Regex::new(
        r#"^\s+(?P<rec_op>Clear|Clearall|Record|NoRecord)(\s+(?P<new_state>\w+|".*"))?$"#,
    )
    .expect("fixed pattern")
});
static ACTION_STATE: LazyLock<meta::Regex> = LazyLock::new(|| {
    meta::Regex::new(r#"^(\s+(?P<new_state>\w+|".*"))?$"#).expect("fixed pattern")
});

/// Python's `str.isspace()`.
pub(crate) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `${Name}` substitutions: each value's name and its named-group regex.
type Substitutions = Vec<(String, String)>;

/// A state as read: its name, its line, its rules.
type RawState = (String, usize, Vec<RawRule>);

/// A rule as read, before its destination is resolved.
struct RawRule {
    line: usize,
    line_op: LineOp,
    record_op: RecordOp,
    new_state: Option<String>,
    regex: String,
}

struct Reader<'a> {
    lines: Vec<&'a str>,
    next: usize,
    origin: Option<PathBuf>,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str, origin: Option<PathBuf>) -> Self {
        // Python reads template files with universal newlines.
        let mut lines: Vec<&str> = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['\n', '\r']) {
                Some(i) => {
                    lines.push(&rest[..i]);
                    let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                    rest = &rest[i + skip..];
                }
                None => {
                    lines.push(rest);
                    rest = "";
                }
            }
        }
        Reader {
            lines,
            next: 0,
            origin,
        }
    }

    fn error(&self, line: usize, message: impl Into<String>) -> TemplateError {
        TemplateError {
            origin: self.origin.clone(),
            line,
            message: message.into(),
        }
    }

    /// The next line, right-trimmed, with its number.
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        let line = self.lines.get(self.next)?;
        self.next += 1;
        Some((self.next, line.trim_end_matches(py_space)))
    }

    fn is_comment(line: &str) -> bool {
        line.trim_start_matches(py_space).starts_with('#')
    }

    fn read(mut self) -> Result<Template, TemplateError> {
        let (values, substitutions) = self.read_values()?;
        let mut raw_states: Vec<RawState> = Vec::new();
        while let Some(state) = self.read_state(&substitutions, &raw_states)? {
            raw_states.push(state);
        }
        self.build(values, raw_states)
    }

    fn read_values(&mut self) -> Result<(Vec<ValueDef>, Substitutions), TemplateError> {
        let mut values: Vec<ValueDef> = Vec::new();
        let mut substitutions = Vec::new();
        while let Some((number, line)) = self.next_line() {
            if line.is_empty() {
                break;
            }
            if Self::is_comment(line) {
                continue;
            }
            if let Some(rest) = line.strip_prefix("Value ") {
                let (value, template) = self.read_value(number, rest)?;
                if values.iter().any(|v| v.name == value.name) {
                    return Err(self.error(
                        number,
                        format!("duplicate declarations for value '{}'", value.name),
                    ));
                }
                substitutions.push((value.name.clone(), template));
                values.push(value);
            } else if values.is_empty() {
                return Err(self.error(number, "no value definitions found"));
            } else {
                return Err(self.error(number, "expected blank line after last value entry"));
            }
        }
        Ok((values, substitutions))
    }

    /// One `Value` line after the keyword; also returns its named-group form for
    /// substitution into rules.
    fn read_value(&self, number: usize, rest: &str) -> Result<(ValueDef, String), TemplateError> {
        // Python splits on single spaces: `Value  X` has an empty option list.
        let tokens: Vec<&str> = rest.split(' ').collect();
        if tokens.len() < 2 {
            return Err(self.error(number, "expect at least 3 tokens on line"));
        }
        let (options_text, name, regex) = if tokens[1].starts_with('(') {
            (None, tokens[0], tokens[1..].join(" "))
        } else {
            (Some(tokens[0]), tokens[1], tokens[2..].join(" "))
        };
        let mut options = Vec::new();
        for option in options_text
            .map(|o| o.split(',').collect())
            .unwrap_or_else(Vec::new)
        {
            let parsed = match option {
                "Required" => ValueOption::Required,
                "Filldown" => ValueOption::Filldown,
                "Fillup" => ValueOption::Fillup,
                "Key" => ValueOption::Key,
                "List" => ValueOption::List,
                other => return Err(self.error(number, format!("unknown option \"{other}\""))),
            };
            if options.contains(&parsed) {
                return Err(self.error(number, format!("duplicate option \"{option}\"")));
            }
            options.push(parsed);
        }
        if name.chars().count() > MAX_NAME_LEN {
            return Err(self.error(
                number,
                format!("invalid value name '{name}' or name too long"),
            ));
        }
        let well_formed = regex.starts_with('(') && regex.ends_with(')') && !regex.ends_with("\\)");
        if !well_formed || regex.len() < 2 {
            return Err(self.error(
                number,
                format!("value '{regex}' must be contained within a '()' pair"),
            ));
        }
        let translated = pyre::translate(&regex)
            .map_err(|e| self.error(number, format!("value {name}: {e}")))?;
        let list = options.contains(&ValueOption::List);
        let nested = if list && translated.groups.len() > 1 {
            Some(
                compile(&translated)
                    .map_err(|e| self.error(number, format!("value {name}: {e}")))?,
            )
        } else {
            None
        };
        let template = format!("(?P<{name}>{}", &regex[1..]);
        Ok((
            ValueDef {
                name: name.to_string(),
                filldown: options.contains(&ValueOption::Filldown),
                options,
                nested,
            },
            template,
        ))
    }

    /// One state: its name and rules, or `None` at the end of the template.
    fn read_state(
        &mut self,
        substitutions: &[(String, String)],
        seen: &[RawState],
    ) -> Result<Option<RawState>, TemplateError> {
        let mut name = None;
        while let Some((number, line)) = self.next_line() {
            if line.is_empty() || Self::is_comment(line) {
                continue;
            }
            let valid = !line.is_empty()
                && line.chars().all(is_word)
                && line.chars().count() <= MAX_NAME_LEN
                && ![
                    "Continue", "Next", "Error", "Clear", "Clearall", "Record", "NoRecord",
                ]
                .contains(&line);
            if !valid {
                return Err(self.error(number, format!("invalid state name: '{line}'")));
            }
            if seen.iter().any(|(n, _, _)| n == line) {
                return Err(self.error(number, format!("duplicate state name: '{line}'")));
            }
            name = Some((line.to_string(), number));
            break;
        }
        let Some((name, name_line)) = name else {
            return Ok(None);
        };
        let mut rules = Vec::new();
        while let Some((number, line)) = self.next_line() {
            if line.is_empty() {
                break;
            }
            if Self::is_comment(line) {
                continue;
            }
            if !(line.starts_with(" ^") || line.starts_with("  ^") || line.starts_with("\t^")) {
                return Err(self.error(number, "missing white space or carat ('^') before rule"));
            }
            rules.push(self.read_rule(number, line, substitutions)?);
        }
        Ok(Some((name, name_line, rules)))
    }

    fn read_rule(
        &self,
        number: usize,
        line: &str,
        substitutions: &[(String, String)],
    ) -> Result<RawRule, TemplateError> {
        let line = line.trim_matches(py_space);
        // Python's `(?P<match>.*)(\s->(?P<action>.*))`: the last whitespace followed by `->`.
        let split = line
            .char_indices()
            .rev()
            .find(|&(i, c)| py_space(c) && line[i + c.len_utf8()..].starts_with("->"))
            .map(|(i, c)| (i, i + c.len_utf8() + 2));
        let (pattern, action) = match split {
            Some((end, action_start)) => (&line[..end], Some(&line[action_start..])),
            None => (line, None),
        };
        let regex = substitute(pattern, substitutions).map_err(|e| self.error(number, e))?;
        let mut rule = RawRule {
            line: number,
            line_op: LineOp::Next,
            record_op: RecordOp::NoRecord,
            new_state: None,
            regex,
        };
        let Some(action) = action else {
            return Ok(rule);
        };
        let input = regex_automata::Input::new(action).anchored(regex_automata::Anchored::Yes);
        let found = [&*ACTION, &*ACTION_RECORD, &*ACTION_STATE]
            .into_iter()
            .find_map(|re| {
                let mut caps = re.create_captures();
                re.search_captures(&input, &mut caps);
                caps.is_match().then_some(caps)
            });
        let Some(caps) = found else {
            return Err(self.error(number, format!("badly formatted rule '{line}'")));
        };
        let group = |name: &str| {
            caps.get_group_by_name(name)
                .map(|span| &action[span.range()])
        };
        if let Some(op) = group("ln_op") {
            rule.line_op = match op {
                "Continue" => LineOp::Continue,
                "Error" => LineOp::Error,
                _ => LineOp::Next,
            };
        }
        if let Some(op) = group("rec_op") {
            rule.record_op = match op {
                "Record" => RecordOp::Record,
                "Clear" => RecordOp::Clear,
                "Clearall" => RecordOp::Clearall,
                _ => RecordOp::NoRecord,
            };
        }
        rule.new_state = group("new_state").map(str::to_string);
        if rule.line_op == LineOp::Continue && rule.new_state.is_some() {
            return Err(self.error(
                number,
                format!(
                    "action 'Continue' with new state {} specified",
                    rule.new_state.as_deref().unwrap_or("")
                ),
            ));
        }
        if rule.line_op != LineOp::Error
            && rule
                .new_state
                .as_deref()
                .is_some_and(|s| !s.starts_with(is_word))
        {
            return Err(self.error(number, "alphanumeric characters only in state names"));
        }
        Ok(rule)
    }

    fn build(
        &self,
        values: Vec<ValueDef>,
        mut raw_states: Vec<RawState>,
    ) -> Result<Template, TemplateError> {
        let Some(start) = raw_states.iter().position(|(n, _, _)| n == "Start") else {
            return Err(self.error(0, "missing state 'Start'"));
        };
        for reserved in ["End", "EOF"] {
            if let Some((_, line, rules)) = raw_states.iter().find(|(n, _, _)| n == reserved)
                && !rules.is_empty()
            {
                return Err(self.error(*line, format!("non-empty '{reserved}' state")));
            }
        }
        let eof_declared = raw_states.iter().any(|(n, _, _)| n == "EOF");
        raw_states.retain(|(n, _, _)| n != "End" && n != "EOF");
        // `Start` first; the others keep their order.
        let start = raw_states
            .iter()
            .position(|(n, _, _)| n == "Start")
            .unwrap_or(start);
        let start_state = raw_states.remove(start);
        raw_states.insert(0, start_state);
        let names: Vec<String> = raw_states.iter().map(|(n, _, _)| n.clone()).collect();

        let mut states = Vec::with_capacity(raw_states.len());
        let mut base = 0;
        for (name, _, raw_rules) in raw_states {
            let mut rules = Vec::with_capacity(raw_rules.len());
            for raw in raw_rules {
                let (target, message) = match (raw.line_op, raw.new_state) {
                    (LineOp::Error, message) => (
                        Target::Stay,
                        message.map(|m| m.trim_matches('"').to_string()),
                    ),
                    (_, None) => (Target::Stay, None),
                    (_, Some(s)) if s == "End" => (Target::End, None),
                    (_, Some(s)) if s == "EOF" => (Target::Eof, None),
                    (_, Some(s)) => match names.iter().position(|n| *n == s) {
                        Some(i) => (Target::State(i), None),
                        None => {
                            return Err(self.error(
                                raw.line,
                                format!("state '{s}' not found, referenced in state '{name}'"),
                            ));
                        }
                    },
                };
                let translated = pyre::translate(&raw.regex).map_err(|e| {
                    self.error(
                        raw.line,
                        format!("invalid regular expression '{}': {e}", raw.regex),
                    )
                })?;
                let backtracking = if translated.backtracking {
                    Some(fancy(&translated.pattern).map_err(|e| {
                        self.error(
                            raw.line,
                            format!("invalid regular expression '{}': {e}", raw.regex),
                        )
                    })?)
                } else {
                    None
                };
                let value_index = |name: &str| values.iter().position(|v| v.name == name);
                // Group 0 is the whole match; named groups that are values get assigned.
                let assign = translated
                    .groups
                    .iter()
                    .enumerate()
                    .filter_map(|(i, name)| Some((i + 1, value_index(name.as_deref()?)?)))
                    .collect();
                rules.push(Rule {
                    line: raw.line,
                    line_op: raw.line_op,
                    record_op: raw.record_op,
                    target,
                    message,
                    pattern: translated.pattern,
                    backtracking,
                    ascii_groups: OnceLock::new(),
                    unicode_groups: OnceLock::new(),
                    assign,
                });
            }
            let runs = (0..rules.len()).map(|_| OnceLock::new()).collect();
            let count = rules.len();
            let mut state = State { rules, runs, base };
            base += count;
            self.compile_runs(&mut state)?;
            states.push(state);
        }
        Ok(Template {
            values,
            states,
            eof_declared,
            rule_count: base,
            origin: self.origin.clone(),
        })
    }

    /// Compiles the runs every search starts with (at rule 0 and after each backtracking
    /// rule), which checks every pattern.
    fn compile_runs(&self, state: &mut State) -> Result<(), TemplateError> {
        let mut from = 0;
        while from < state.rules.len() {
            if state.rules[from].backtracking.is_some() {
                from += 1;
                continue;
            }
            let run = build_run(&state.rules, from).map_err(|(rule, e)| {
                self.error(
                    state.rules[rule].line,
                    format!(
                        "invalid regular expression '{}': {e}",
                        state.rules[rule].pattern
                    ),
                )
            })?;
            // Keep it: this run is where searches start.
            let end = run.end;
            let _ = state.runs[from].set(Ok(run));
            from = end;
        }
        Ok(())
    }
}

/// Python's `string.Template(text).substitute(values)`.
fn substitute(text: &str, values: &[(String, String)]) -> Result<String, String> {
    let invalid = || format!("duplicate or invalid variable substitution: '{text}'");
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(invalid)
    };
    let is_id_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let is_id = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len() * 2);
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find(|c: char| !is_id(c)).unwrap_or(braced.len());
            if end == 0 || !braced.starts_with(is_id_start) || !braced[end..].starts_with('}') {
                return Err(invalid());
            }
            out.push_str(lookup(&braced[..end])?);
            rest = &braced[end + 1..];
        } else if after.starts_with(is_id_start) {
            let end = after.find(|c: char| !is_id(c)).unwrap_or(after.len());
            out.push_str(lookup(&after[..end])?);
            rest = &after[end..];
        } else {
            return Err(invalid());
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_follows_string_template() {
        let values = vec![("A".to_string(), "(?P<A>x)".to_string())];
        assert_eq!(substitute("^${A}$$", &values).unwrap(), "^(?P<A>x)$");
        assert_eq!(substitute("^$A.b", &values).unwrap(), "^(?P<A>x).b");
        assert!(substitute("^${B}", &values).is_err());
        assert!(substitute("^a$", &values).is_err());
    }

    #[test]
    fn prepare_compiles_every_run_a_line_can_start_from() {
        // Searches start at rule 0, after the Continue (2), after the backtracking rule (4).
        const TEXT: &str = "Value A (\\S+)\nValue B (\\d+)\n\nStart\n  ^a ${A}\n  \
                            ^x -> Continue\n  ^b ${B}\n  ^(?=c)c\n  ^d -> Record\n";
        let template = Template::parse(TEXT).unwrap();
        let state = &template.states[0];
        let compiled = || -> Vec<usize> {
            (0..state.rules.len())
                .filter(|&i| state.runs[i].get().is_some())
                .collect()
        };
        let groups = || -> Vec<bool> {
            state
                .rules
                .iter()
                .filter(|r| !r.assign.is_empty())
                .map(|r| r.ascii_groups.get().is_some())
                .collect()
        };
        // Reading compiles the runs that check every pattern; groups wait for a match.
        assert_eq!(compiled(), [0, 4]);
        assert_eq!(groups(), [false, false]);
        template.prepare();
        assert_eq!(compiled(), [0, 2, 4]);
        assert_eq!(groups(), [true, true]);
        // What parsing needs is there: the same rows as an unprepared template's.
        let fresh = Template::parse(TEXT).unwrap();
        let text = "a one\nx\nb 2\nc\nd\n";
        assert_eq!(
            template.parse_text(text).unwrap().rows,
            fresh.parse_text(text).unwrap().rows
        );
    }
}
