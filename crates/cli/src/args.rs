//! Command-line flags, and the help text that teaches them.
//!
//! Only parsing and plain validation live here; what the flags *do* is in the subcommand
//! modules.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run commands over SSH on many network devices at once, and never lose a result.
#[derive(Debug, Parser)]
#[command(name = "netsweep", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sweep the inventory: connect to every device, run the commands, report each result.
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Render a sweep's journal again (text, JSON, summary) without contacting any device.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Run the same sweep with each pool and worker count, and compare time, rate, CPU and
    /// memory in a table (and a chart): "how many workers, threads or processes, for my fleet?"
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(Box<CompareArgs>),
    /// Print a completion script for your shell (bash, zsh, fish, powershell, elvish).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print netsweep's manual page (roff), or write a page per subcommand into a directory.
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0    every device ok
  1    at least one device failed (see the summary)
  2    usage or inventory error (nothing was swept)
  130  interrupted (Ctrl-C / SIGTERM); the sweep can be resumed";

const RUN_EXAMPLES: &str = "\
Examples:
  # The demo fleet in ./devices.yaml, served by the built-in simulator:
  netsweep run --simulate -c 'show clock'

  # Two commands on the routers group, 50 at a time, JSON Lines out:
  netsweep run -i devices.yaml --limit routers -w 50 -c 'show version' -c 'show ip interface brief' --format jsonl

  # Results in inventory order (like Executor.map) instead of as they finish (as_completed):
  netsweep run -c 'show clock' --order input

  # Carry on after a crash or Ctrl-C: finished devices are not contacted again:
  netsweep run --resume latest -c 'show clock'

Exit codes:
  0    every device ok
  1    at least one device failed (see the summary)
  2    usage or inventory error (nothing was swept)
  130  interrupted (Ctrl-C / SIGTERM); the sweep can be resumed";

const REPORT_EXAMPLES: &str = "\
Examples:
  netsweep report latest
  netsweep report runs/20261121T102600.000Z-0123456789ab.jsonl --format summary
  netsweep report latest --merge";

const COMPARE_EXAMPLES: &str = "\
Examples:
  # The demo fleet, simulated, at four worker counts, three runs each, with a chart:
  netsweep compare --simulate -c 'show clock' --workers 1,2,4,8 --repeat 3 --chart compare.svg

  # A real fleet, read-only command, threads only:
  netsweep compare -i devices.yaml -c 'show clock' --pools threads --workers 10,20,40

Each run is a separate `netsweep run --no-journal` of the whole selection; device results are
not printed, only the figures.";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  # bash (needs the bash-completion package), for your user:
  mkdir -p ~/.local/share/bash-completion/completions
  netsweep completions bash > ~/.local/share/bash-completion/completions/netsweep

  # zsh: a directory on your $fpath, then restart the shell:
  netsweep completions zsh > ~/.zfunc/_netsweep

  # fish:
  netsweep completions fish > ~/.config/fish/completions/netsweep.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  netsweep man | man -l -
  mkdir -p ~/.local/share/man/man1 && netsweep man --out-dir ~/.local/share/man/man1";

/// Which pool runs the devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PoolChoice {
    /// Each device in a supervised worker process (a hung or crashed device costs only itself).
    Processes,
    /// Each device on a thread of this process (lighter; a hung device's thread is abandoned).
    Threads,
}

/// How `--pool processes` starts its workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WorkerStartChoice {
    /// Fork each worker from one pre-initialised worker process (fast: its start-up is paid once).
    ForkServer,
    /// Exec the worker binary for every worker (for a --worker-path that is a wrapper script,
    /// or a worker run under a debugger).
    Exec,
}

impl PoolChoice {
    /// The flag value, as `--pool` takes it.
    pub fn name(self) -> &'static str {
        match self {
            PoolChoice::Processes => "processes",
            PoolChoice::Threads => "threads",
        }
    }
}

/// In which order device results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OrderChoice {
    /// As devices finish (like `as_completed`).
    Completion,
    /// In inventory order (like `Executor.map`); early slow devices hold back later ones.
    Input,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatChoice {
    /// A block per device, then a summary.
    Text,
    /// One JSON array of device records at the end.
    Json,
    /// One JSON record per line, as each device finishes.
    Jsonl,
}

/// Host key checking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HostKeyChoice {
    /// Only keys already in the known_hosts file.
    Strict,
    /// Trust on first use; a changed key is still refused.
    AcceptNew,
    /// No checking (labs only).
    Off,
}

impl HostKeyChoice {
    /// The flag value, as `--host-key-policy` takes it.
    pub fn name(self) -> &'static str {
        match self {
            HostKeyChoice::Strict => "strict",
            HostKeyChoice::AcceptNew => "accept-new",
            HostKeyChoice::Off => "off",
        }
    }
}

/// `netsweep run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Inventory file (netmiko-style devices.yaml).
    #[arg(short, long, default_value = "devices.yaml", value_name = "FILE")]
    pub inventory: PathBuf,

    /// Command to run on every device; repeat for several, run in order in one session.
    /// With --resume, defaults to the journal's commands.
    #[arg(
        short = 'c',
        long = "command",
        value_name = "CMD",
        required_unless_present = "resume"
    )]
    pub commands: Vec<String>,

    /// Only these devices or groups (names or globs, e.g. `routers`, `core-*`); repeatable,
    /// or comma-separated.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub limit: Vec<String>,

    /// Which pool runs the devices.
    #[arg(long, value_enum, default_value_t = PoolChoice::Processes)]
    pub pool: PoolChoice,

    /// How many devices run at once.
    #[arg(short, long, default_value_t = 32, value_name = "N")]
    pub workers: usize,

    /// Order of the results.
    #[arg(long, value_enum, default_value_t = OrderChoice::Completion)]
    pub order: OrderChoice,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = FormatChoice::Text)]
    pub format: FormatChoice,

    /// TCP connect timeout per device (a device's `conn_timeout` in the inventory wins).
    #[arg(long, value_parser = parse_timeout, default_value = "10s", value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// Longest wait for any single reply: banner, prompt, one command's output.
    #[arg(long, value_parser = parse_timeout, default_value = "30s", value_name = "DURATION")]
    pub command_timeout: Duration,

    /// Longest a device may take, all stages together; then it is stopped and `timed_out`.
    #[arg(long, value_parser = parse_timeout, default_value = "120s", value_name = "DURATION")]
    pub deadline: Duration,

    /// Host key checking.
    #[command(flatten)]
    pub host_keys: HostKeyArgs,

    /// Serve the inventory's devices from the built-in simulator for the length of the run
    /// (their hosts must be loopback addresses). For demos and rehearsals.
    #[arg(long)]
    pub simulate: bool,

    /// Seed for the simulator's host keys and behaviour (with --simulate).
    #[arg(long, default_value_t = 1, value_name = "N", requires = "simulate")]
    pub sim_seed: u64,

    /// The worker binary for --pool processes. [default: netsweep-worker next to netsweep]
    #[arg(long, value_name = "FILE")]
    pub worker_path: Option<PathBuf>,

    /// How --pool processes starts each worker process.
    #[arg(long, value_enum, default_value_t = WorkerStartChoice::ForkServer, value_name = "HOW")]
    pub worker_start: WorkerStartChoice,

    /// Replace a worker process after this many devices (1 = a fresh process per device).
    #[arg(long, value_name = "N")]
    pub max_devices_per_worker: Option<usize>,

    /// Further attempts for devices that fail transiently (unreachable, timed out, connection
    /// lost, worker crashed); never for authentication or host-key failures.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub retries: u32,

    /// Group devices with identical output in text format (like `dshbak -c`); printed at
    /// the end.
    #[arg(long)]
    pub merge: bool,

    /// Also write each device's output to DIR/<device>/<NN>-<command>.txt.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// The journal to write. [default: a new file in ./runs, or $XDG_STATE_HOME/netsweep/runs]
    #[arg(long, value_name = "FILE", conflicts_with_all = ["resume", "no_journal"])]
    pub journal: Option<PathBuf>,

    /// Write no journal (throwaway runs and benchmarks; such a run cannot be resumed).
    #[arg(long, conflicts_with = "resume")]
    pub no_journal: bool,

    /// Resume the sweep recorded in a journal (`latest`: the newest in the runs directory):
    /// devices with a final record are skipped, new records are appended.
    #[arg(long, value_name = "FILE|latest", num_args = 0..=1, default_missing_value = "latest")]
    pub resume: Option<String>,

    /// With --resume: also redo devices whose recorded outcome is a failure.
    #[arg(long, requires = "resume")]
    pub rerun_failed: bool,

    /// With --resume: go on even though the commands or finished devices' addresses changed.
    #[arg(long, requires = "resume")]
    pub force: bool,

    /// Write the run's resource figures as JSON to FILE when it ends: wall time, devices/s,
    /// CPU seconds of the coordinator and of its (reaped) workers, peak RSS of the coordinator
    /// and of the largest worker. For benchmarks and `netsweep compare`; with --simulate the
    /// simulator's share is in the coordinator's figures.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,

    /// No progress bar or periodic status line on stderr.
    #[arg(long)]
    pub no_progress: bool,

    /// Log each device's start and finish with the worker's name and a timestamp (-vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Output of `netsweep compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// A table.
    Text,
    /// A JSON array of results.
    Json,
}

/// `netsweep compare` flags.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Inventory file.
    #[arg(short, long, default_value = "devices.yaml", value_name = "FILE")]
    pub inventory: PathBuf,

    /// Command to run on every device; repeatable.
    #[arg(short = 'c', long = "command", value_name = "CMD", required = true)]
    pub commands: Vec<String>,

    /// Only these devices or groups (names or globs).
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub limit: Vec<String>,

    /// Pools to compare.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "threads,processes"
    )]
    pub pools: Vec<PoolChoice>,

    /// Worker counts to compare.
    #[arg(
        short,
        long,
        value_delimiter = ',',
        default_value = "5,10,20,40",
        value_name = "N,N,…"
    )]
    pub workers: Vec<usize>,

    /// Runs per (pool, workers) pair; the table shows median, min and max.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,

    /// Serve the inventory's devices from the built-in simulator (in this process, so its
    /// CPU does not count against the runs).
    #[arg(long)]
    pub simulate: bool,

    /// Seed for the simulator (with --simulate).
    #[arg(long, default_value_t = 1, value_name = "N", requires = "simulate")]
    pub sim_seed: u64,

    /// Draw wall time and devices/s against workers, a line per pool (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,

    /// Longest a device may take in each run.
    #[arg(long, value_parser = parse_timeout, default_value = "120s", value_name = "DURATION")]
    pub deadline: Duration,

    /// Host key checking, as for `run`.
    #[command(flatten)]
    pub host_keys: HostKeyArgs,
}

/// Host key flags, shared by `run` and `compare`.
#[derive(Debug, Args)]
pub struct HostKeyArgs {
    /// What to do with host keys netsweep has not seen before.
    #[arg(long, value_enum, default_value_t = HostKeyChoice::AcceptNew)]
    pub host_key_policy: HostKeyChoice,

    /// netsweep's own known_hosts file (OpenSSH format).
    /// [default: $XDG_DATA_HOME/netsweep/known_hosts]
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
}

/// What `netsweep report` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A block per device, then the summary.
    Text,
    /// One JSON array of device records.
    Json,
    /// One JSON record per line.
    Jsonl,
    /// The summary only.
    Summary,
}

/// `netsweep report` flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The journal (`latest`: the newest in the runs directory).
    #[arg(value_name = "FILE|latest")]
    pub journal: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Group devices with identical output (text format).
    #[arg(long)]
    pub merge: bool,
}

/// `netsweep completions` flags.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `netsweep man` flags.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write netsweep.1 and a page per subcommand (netsweep-run.1, …) into this directory
    /// instead of printing netsweep.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Time limits on the command line read like those in devices.yaml: `200ms`, `10s`,
/// `1m30s`, or a number of seconds; never zero.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    netsweep_inventory::parse_timeout(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn resume_makes_commands_optional() {
        let cli = Cli::try_parse_from(["netsweep", "run", "--resume"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.resume.as_deref(), Some("latest"));
        assert!(Cli::try_parse_from(["netsweep", "run"]).is_err());
    }
}
