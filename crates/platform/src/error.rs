//! Why a platform table, a platform definition or a named-command file was refused: every
//! problem with its `file:line:column`.

use std::fmt;
use std::path::PathBuf;

/// A position in a file, 1-based, as editors count (the inventory's problems use it too).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem in a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where, when known (a definition received from elsewhere has no file).
    pub location: Option<Location>,
    /// What is wrong, naming the platform and field.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why platform definitions (or named commands) could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The definitions are invalid; every problem found, in file order.
    #[error("{}", render(problems))]
    Invalid {
        /// The problems.
        problems: Vec<Problem>,
    },
}

fn render(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    lines.join("\n")
}

impl PlatformError {
    /// The problems, for callers that merge them into their own report (an inventory's).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            PlatformError::Read { path, source } => vec![Problem {
                location: None,
                message: format!("cannot read {}: {source}", path.display()),
            }],
            PlatformError::Invalid { problems } => problems.clone(),
        }
    }
}
