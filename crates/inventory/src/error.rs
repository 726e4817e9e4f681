//! What can be wrong with an inventory, said with the file, line and column it was found at.
//!
//! Every message names the field at fault and, where useful, the offending value — except for
//! credentials: no message in this module ever holds a password or secret, whether written in
//! the file, read from the environment or read from a secret file. Only names of environment
//! variables and paths of secret files are shown.

use std::fmt;
use std::path::PathBuf;

/// How many problems [`InventoryError::Invalid`]'s `Display` lists before summarising the rest.
/// All of them stay available in `problems`.
pub const MAX_DISPLAYED_PROBLEMS: usize = 20;

/// A position in an inventory file, 1-based, as editors count (the platform table's type:
/// platform definitions inside an inventory report through it too).
pub use netsweep_platform::Location;

/// Why an inventory could not be loaded or a `--limit` could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The file could not be read at all.
    #[error("cannot read inventory {}", path.display())]
    Read {
        /// The inventory path.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid inventory. Every problem found is listed, in file
    /// order: fixing a 5,000-line file one error per run would be cruel. A YAML syntax error
    /// stops the reading, so it comes alone.
    #[error("{}", DisplayProblems(problems))]
    Invalid {
        /// Every problem, sorted by position, never empty.
        problems: Vec<Problem>,
    },
    /// A `--limit` pattern is not a valid glob.
    #[error("--limit pattern `{pattern}` is not a valid glob")]
    BadLimitPattern {
        /// The pattern as given.
        pattern: String,
        /// What globset said.
        #[source]
        source: globset::Error,
    },
    /// A `--limit` pattern selects nothing: almost always a typo, and running the sweep on
    /// fewer devices than intended must not look like success.
    #[error("--limit pattern `{pattern}` matches no device or group in {}", path.display())]
    LimitMatchedNothing {
        /// The pattern as given.
        pattern: String,
        /// The inventory path.
        path: PathBuf,
    },
}

impl InventoryError {
    /// The validation problems, if this is [`InventoryError::Invalid`]; empty otherwise.
    pub fn problems(&self) -> &[Problem] {
        match self {
            InventoryError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

struct DisplayProblems<'a>(&'a [Problem]);

impl fmt::Display for DisplayProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().take(MAX_DISPLAYED_PROBLEMS).enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        if self.0.len() > MAX_DISPLAYED_PROBLEMS {
            write!(
                f,
                "\nand {} more problems",
                self.0.len() - MAX_DISPLAYED_PROBLEMS
            )?;
        }
        Ok(())
    }
}

/// One thing wrong in the inventory, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct Problem {
    /// Where it was found (for a value merged from `defaults:`, where the default is written).
    pub location: Location,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong. Messages are lowercase and never contain a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The YAML itself is malformed (or has a duplicate key).
    #[error("{message}")]
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// The file is not UTF-8.
    #[error("inventory is not valid UTF-8 text")]
    NotUtf8,
    /// The document does not have the shape of an inventory.
    #[error("{message}")]
    Structure {
        /// What shape was expected.
        message: String,
    },
    /// A field netsweep does not know.
    #[error(
        "unknown field `{field}` in {context}{} (expected one of: {})",
        suggestion.map(|s| format!(", did you mean `{s}`?")).unwrap_or_default(),
        expected.join(", ")
    )]
    UnknownField {
        /// The field as written.
        field: String,
        /// `device entry`, `defaults` or `simulate block`.
        context: &'static str,
        /// The nearest known field, if one is close.
        suggestion: Option<&'static str>,
        /// Every field accepted there.
        expected: &'static [&'static str],
    },
    /// A netmiko connection option that netsweep does not use; silently ignoring it could
    /// change what the user expects, so it is refused by name.
    #[error("netmiko option `{field}` is not supported by netsweep; remove it")]
    UnsupportedNetmikoOption {
        /// The option as written.
        field: String,
    },
    /// A device-entry field used where it makes no sense (`name` or `host` in `defaults:`).
    #[error("`{field}` cannot be set in {context}, only in a device entry")]
    NotAllowedHere {
        /// The field.
        field: &'static str,
        /// Where it was found.
        context: &'static str,
    },
    /// A required field is absent from the entry and from `defaults:`.
    #[error(
        "missing `{field}`{} in device entry{}",
        if *field == "host" { " (or `ip`)" } else { "" },
        if *in_defaults_too { " (and in defaults)" } else { "" }
    )]
    MissingField {
        /// The field, e.g. `host` (or `ip`).
        field: &'static str,
        /// Whether a `defaults:` section exists (so the user knows it was looked at too).
        in_defaults_too: bool,
    },
    /// Two fields that say the same thing are both set.
    #[error("`{first}` and `{second}` are both set; keep one")]
    ConflictingFields {
        /// The first of the two.
        first: String,
        /// The second of the two.
        second: String,
    },
    /// A field holds the wrong kind of YAML value.
    #[error("`{field}` must be {expected}, not {found}")]
    WrongType {
        /// The field.
        field: String,
        /// What it must be, e.g. `a string`.
        expected: &'static str,
        /// What it is, e.g. `a list`.
        found: &'static str,
    },
    /// A field's value is of the right kind but not acceptable. `reason` never holds a
    /// credential.
    #[error("invalid `{field}`: {reason}")]
    InvalidValue {
        /// The field.
        field: String,
        /// Why, naming the value where it is not secret.
        reason: String,
    },
    /// Two entries have the same name.
    #[error(
        "duplicate device name `{name}` (first defined at {first}){}",
        if *defaulted { "; names default to the host (or host:port), give each entry a `name:`" } else { "" }
    )]
    DuplicateName {
        /// The name.
        name: String,
        /// Where the first entry with that name is.
        first: Location,
        /// Whether the name came from the host rather than a `name:` field.
        defaulted: bool,
    },
    /// A platform defined under `platforms:` is invalid (the platform table's message, which
    /// names the platform and field).
    #[error("{message}")]
    Platform {
        /// What is wrong.
        message: String,
    },
    /// A `device_type` netsweep has no driver for.
    #[error("unknown device_type `{device_type}` (supported: {}){hint}", supported.join(", "))]
    UnknownDeviceType {
        /// As written.
        device_type: String,
        /// Every accepted spelling, sorted.
        supported: Vec<String>,
        /// Extra advice, empty or starting with `; `.
        hint: &'static str,
    },
    /// `password: ${NAME}` or `password_env: NAME` names a variable that is not set.
    #[error("environment variable `{var}` for `{field}` is not set")]
    EnvVarNotSet {
        /// The credential field.
        field: &'static str,
        /// The variable's name.
        var: String,
    },
    /// The variable is set but empty, which is almost always a mistake in the calling shell.
    #[error("environment variable `{var}` for `{field}` is empty")]
    EnvVarEmpty {
        /// The credential field.
        field: &'static str,
        /// The variable's name.
        var: String,
    },
    /// A `*_file` credential could not be read.
    #[error("cannot read `{field}` {}: {reason}", path.display())]
    SecretFileUnreadable {
        /// The field, e.g. `password_file`.
        field: &'static str,
        /// The resolved path.
        path: PathBuf,
        /// What the operating system said (never the file's content).
        reason: String,
    },
    /// A `*_file` credential is empty.
    #[error("`{field}` {} is empty", path.display())]
    SecretFileEmpty {
        /// The field, e.g. `password_file`.
        field: &'static str,
        /// The resolved path.
        path: PathBuf,
    },
    /// `key_file` does not name a readable file.
    #[error("cannot use `key_file` {}: {reason}", path.display())]
    KeyFileUnusable {
        /// The resolved path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The inventory defines no device at all.
    #[error("inventory defines no devices")]
    EmptyInventory,
}
