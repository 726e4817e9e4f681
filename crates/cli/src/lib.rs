//! The netsweep command line: flags, wiring of inventory, pool, journal and report, progress
//! display and exit codes.
//!
//! The one layer that prints and the one that turns errors into exit codes. Device I/O, pools
//! and file formats belong to the library crates; this crate only connects them.

#![allow(clippy::print_stderr)]

pub mod args;
mod change;
mod chart;
mod compare;
mod display;
mod manual;
mod merge;
mod platforms;
mod progress;
mod report;
mod rows;
mod run;
mod sharding;
mod signals;
mod ssh_config;
mod stats;
mod templates;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// How a netsweep invocation ended; the documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every device ok.
    Ok,
    /// 1: at least one device failed.
    SomeFailed,
    /// 2: usage or inventory error; nothing was swept.
    Usage,
    /// 3: stopped by `--canary` or `--max-failures`: devices failed and others were never
    /// started; resumable. Not 1, which says the sweep ran to its end: a script that goes on
    /// after 1 (the change is everywhere but on the failed devices) must not go on here.
    Stopped,
    /// 130: interrupted; resumable.
    Interrupted,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(match s {
            ExitStatus::Ok => 0,
            ExitStatus::SomeFailed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Stopped => 3,
            ExitStatus::Interrupted => 130,
        })
    }
}

/// The hidden first argument that makes `netsweep` act as `netsweep-worker` (see
/// `run::default_worker`).
pub(crate) const WORKER_MODE: &str = "__worker";

/// `main` for the `netsweep` binary.
pub fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == WORKER_MODE) {
        return netsweep_pool::worker::main();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are successes; everything else is a usage error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Ok.into()
            };
        }
    };
    let verbose = match &cli.command {
        Command::Run(a) => a.verbose,
        Command::Report(_)
        | Command::Compare(_)
        | Command::Merge(_)
        | Command::Parse(_)
        | Command::Templates(_)
        | Command::Completions(_)
        | Command::Man(_)
        | Command::Platforms(_) => 0,
    };
    init_logging(verbose);
    let result = match &cli.command {
        Command::Run(a) => run::run(a),
        Command::Report(a) => report::report(a),
        Command::Compare(a) => compare::compare(a),
        Command::Merge(a) => merge::merge(a),
        Command::Parse(a) => templates::parse(a),
        Command::Templates(args::TemplatesCommand::List(a)) => templates::list(a),
        Command::Templates(args::TemplatesCommand::Fetch(a)) => templates::fetch::fetch(a),
        Command::Completions(a) => manual::completions(a),
        Command::Man(a) => manual::man(a),
        Command::Platforms(a) => platforms::platforms(a),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("netsweep: error: {}", error_chain(e.as_ref()));
            ExitStatus::Usage.into()
        }
    }
}

/// Logs go to stderr; `NETSWEEP_LOG` (a tracing filter) overrides the `-v` level.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("NETSWEEP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .try_init();
}

/// An error and its causes on one line: `cannot start worker: No such file or directory`.
pub(crate) use netsweep_protocol::error_chain;
