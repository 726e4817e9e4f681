//! The errors of reading templates and indexes, and of parsing with them.
//!
//! Messages are lower-case and name the file and line where one is known; they never
//! quote device output beyond the one input line an `Error` rule fired on.

use std::path::PathBuf;

/// A template that cannot be used, with the line that says why.
#[derive(Debug, thiserror::Error)]
#[error("{}line {line}: {message}", origin.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
pub struct TemplateError {
    /// The template file, when it came from one.
    pub origin: Option<PathBuf>,
    /// The template line (1-based) the problem is on; 0 for the template as a whole.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parsing output failed (the template itself was fine).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// An `Error` action fired: the template says this output is not what it expects.
    #[error("template error action at rule line {rule_line}{}: input line {input:?}", message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
    ErrorAction {
        /// The message the rule gives (`-> Error "message"`), if any.
        message: Option<String>,
        /// The template line of the rule.
        rule_line: usize,
        /// The input line that matched it.
        input: String,
    },
    /// A rule's regular expression gave up (the backtracking engine's step limit).
    #[error("rule line {rule_line}: regular expression gave up: {message}")]
    Regex {
        /// The template line of the rule.
        rule_line: usize,
        /// The engine's reason.
        message: String,
    },
    /// A `List` value with nested groups met a value its own regex does not match
    /// (Python textfsm fails here too).
    #[error("value {value}: nested list regex does not match {text:?}")]
    NestedList {
        /// The value's name.
        value: String,
        /// The text assigned to it.
        text: String,
    },
}

/// What can go wrong between a command's output and its rows, through an index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The index file is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No index row matches this platform and command.
    #[error("no template for platform {platform:?} and command {command:?} in {}", index.display())]
    NoTemplate {
        /// The platform asked for.
        platform: String,
        /// The command asked for.
        command: String,
        /// The index searched.
        index: PathBuf,
    },
    /// A template named by the index (or given directly) is invalid.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The template rejected the output.
    #[error("{template}: {source}")]
    Parse {
        /// The template's file name.
        template: String,
        /// Why.
        #[source]
        source: ParseError,
    },
    /// Several templates' rows could not be merged.
    #[error("cannot merge the rows of {templates}: key {key:?} is not a column of the first")]
    Merge {
        /// The templates, joined by `:` as in the index.
        templates: String,
        /// The key column missing.
        key: String,
    },
}
