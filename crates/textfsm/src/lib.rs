//! A TextFSM engine with Python textfsm 2.1's semantics, and ntc-templates' CliTable index.
//!
//! netmiko and ntc-templates turn command output into rows with Google's TextFSM: a
//! template per command and platform, chosen through an `index` file. This crate reads the
//! same templates and index and gives the same rows:
//!
//! - [`Template`]: one template, compiled once, shareable between threads, parsing any
//!   number of outputs ([`Template::parse_text`]).
//! - [`CliTable`]: an index and its template directory; [`CliTable::parse`] chooses the
//!   template(s) for a platform and command as CliTable does and merges several on their
//!   `Key` values. Templates are compiled the first time they are needed and kept.
//! - [`Table`]: the rows; serialised ([`Table::records`]) they are netmiko's list of
//!   dictionaries with lower-cased keys.
//!
//! Templates are written in Python's `re` dialect; rules run on regex-automata (one anchored
//! multi-pattern search per line and state) unless they need look-around or
//! back-references, which run on fancy-regex.
//!
//! This crate must not know about devices, sessions or where templates are installed: it is
//! handed text and paths.

mod error;
mod fsm;
mod index;
mod pyre;
mod table;
mod template;

pub use error::{Error, ParseError, TemplateError};
pub use index::{CliTable, Index, IndexRow, expand_completions, parse_merged};
pub use table::{Cell, ListItem, Records, Table};
pub use template::Template;

impl AsRef<Template> for Template {
    fn as_ref(&self) -> &Template {
        self
    }
}
