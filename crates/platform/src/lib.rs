//! The platform table: everything netsweep knows about each network operating system, as
//! data — how to recognise its prompts in each mode, reach privileged mode, turn paging off,
//! tell a rejected command, leave; its ntc-templates name, its named commands, its
//! configuration mode, and how autodetect recognises it.
//!
//! The built-in table is `platforms.yaml` (embedded, parsed once per process by
//! [`builtin`]); a user-defined platform is the same YAML shape, a full definition or
//! `base: cisco_ios` plus overrides ([`PlatformTable::with_file`],
//! [`PlatformTable::with_inventory_platforms`]), validated with `file:line:column` and each
//! bad regex named with its error. The device client, the simulator, inventory validation and
//! the CLI all read this table; nothing else lists platforms.
//!
//! Adding a platform is one entry in `platforms.yaml` (plus a simulator model and tests: see
//! docs/ARCHITECTURE.md).
//!
//! This crate is plain data and the regexes' compilation: it must not do I/O beyond reading
//! a definitions file it is handed, and must not know about sessions, pools or the simulator.

mod commands;
mod def;
mod error;
mod regexes;
mod spec;
mod table;

pub use commands::{CommandBook, CommandRef, ResolvedCommand, Unmapped, command_ref};
pub use error::{Location, PlatformError, Problem};
pub use regexes::{MAX_PROMPT_LEN, PromptMatch, Regexes};
pub use spec::{
    Alias, Channel, Commit, ConfigMode, Confirm, Detect, Enable, Mode, Pager, PlatformSpec,
    Prompts, Save, ShellEscape, Transport,
};
pub use table::{AUTODETECT, BUILTIN_YAML, DeviceType, Platform, PlatformTable, builtin};
