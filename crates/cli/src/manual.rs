//! `netsweep completions SHELL` and `netsweep man`: shell completion scripts and manual
//! pages, generated from the flag definitions in [`crate::args`] so they cannot drift from
//! them.
//!
//! Prints only what it generates, on stdout; a closed stdout (`netsweep man | head`) is not an
//! error.

use std::io::{self, Write};

use anyhow::Context;
use clap::CommandFactory;

use crate::ExitStatus;
use crate::args::{Cli, CompletionsArgs, ManArgs};

/// Prints the completion script for `args.shell`.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "netsweep", &mut script);
    print(&script)
}

/// Prints netsweep.1, or writes it and a page per subcommand into `--out-dir`.
pub fn man(args: &ManArgs) -> anyhow::Result<ExitStatus> {
    if let Some(dir) = &args.out_dir {
        clap_mangen::generate_to(Cli::command(), dir)
            .with_context(|| format!("cannot write manual pages into {}", dir.display()))?;
        return Ok(ExitStatus::Ok);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("cannot render the manual page")?;
    print(&page)
}

/// Writes `bytes` to stdout; a reader that went away early is not a failure.
fn print(bytes: &[u8]) -> anyhow::Result<ExitStatus> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(ExitStatus::Ok),
    }
}
