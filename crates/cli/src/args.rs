//! Command-line flags, and the help text that teaches them.
//!
//! Only parsing and plain validation live here; what the flags *do* is in the subcommand
//! modules.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::rows::RowsFormat;

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
    /// Parse saved command output into rows with a TextFSM template (ntc-templates' index
    /// chooses it from platform and command), without contacting any device.
    #[command(after_help = PARSE_EXAMPLES)]
    Parse(ParseArgs),
    /// The ntc-templates netsweep parses with: where they are, what they cover.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Join the journals of a sweep's shards (`run --shard`, many machines) into one journal.
    ///
    /// Checks that every shard is there once and that they belong together. (Not `--merge`,
    /// which groups devices with identical output in a text report.)
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// List the platforms netsweep can sweep: device_type names and aliases, modes, the
    /// ntc-templates name and the named commands (`-c @version`…).
    #[command(after_help = PLATFORMS_EXAMPLES)]
    Platforms(PlatformsArgs),
    /// Print a completion script for your shell (bash, zsh, fish, powershell, elvish).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print netsweep's manual page (roff), or write a page per subcommand into a directory.
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

const PARSE_EXAMPLES: &str = "\
Examples:
  # Saved `show version` output of a Cisco IOS device, as JSON rows:
  netsweep parse --platform cisco_ios --command 'show version' show_version.txt

  # Chosen columns as a table, from standard input:
  cat sh_ver.txt | netsweep parse --platform cisco_ios --command 'sh ver' --format table --fields hostname,version

  # Your own template, no index involved:
  netsweep parse --template my_show_foo.textfsm foo.txt --format csv

Templates are found as netmiko finds them: --templates DIR, then $NET_TEXTFSM, then netsweep's
data directory ($XDG_DATA_HOME/netsweep/ntc-templates), then
python3's ntc_templates package, then ~/ntc-templates/ntc_templates/templates.

Exit codes:
  0    parsed
  1    the template rejected the output (an Error rule fired)
  2    usage error, no template found, or a broken template";

/// `netsweep parse` flags.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The saved output (`-` or nothing: standard input).
    #[arg(value_name = "FILE|-")]
    pub input: Option<PathBuf>,

    /// ntc-templates' platform name (`cisco_ios`, `arista_eos`, `juniper_junos`, …).
    #[arg(long, value_name = "PLATFORM", required_unless_present = "template")]
    pub platform: Option<String>,

    /// The command that printed the output; abbreviations work as on the device (`sh ver`).
    #[arg(long, value_name = "CMD", required_unless_present = "template")]
    pub command: Option<String>,

    /// Parse with this TextFSM template instead of the one the index chooses.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["platform", "command", "templates"])]
    pub template: Option<PathBuf>,

    /// The ntc-templates directory (with its `index`). [default: found as netmiko finds it]
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = RowsFormat::Json)]
    pub format: RowsFormat,

    /// Columns to show, in order (table and csv): `hostname,version,serial`.
    #[arg(long, value_delimiter = ',', value_name = "FIELD,...")]
    pub fields: Vec<String>,
}

/// `netsweep templates` subcommands.
#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// List the platforms, commands and templates of the index in use.
    List(TemplatesListArgs),
    /// Download an ntc-templates release from a Python package index (PyPI by default),
    /// check its sha256 against the index's, and unpack only its templates into netsweep's
    /// data directory, where `--parse` then finds them.
    #[command(after_help = TEMPLATES_FETCH_AFTER_HELP)]
    Fetch(TemplatesFetchArgs),
}

const TEMPLATES_FETCH_AFTER_HELP: &str = "\
Examples:
  netsweep templates fetch                 the pinned release (the one netsweep is tested with)
  netsweep templates fetch 9.2.0           another release
  netsweep templates fetch --index-url https://pypi.internal/simple
  netsweep templates fetch --archive ntc_templates-9.3.0.tar.gz   offline, from a copy

Offline: on a machine with internet, `pip download --no-deps --no-binary :all: \
ntc-templates==9.3.0` (or `netsweep templates fetch` then copy the data directory), carry the
.tar.gz over, and unpack it with --archive. The pinned release's digest is built in, so its
archive is checked even offline.";

/// `netsweep templates fetch` flags.
#[derive(Debug, Args)]
pub struct TemplatesFetchArgs {
    /// The ntc-templates release to fetch. [default: the release netsweep is tested with]
    #[arg(id = "release", value_name = "VERSION")]
    pub version: Option<String>,

    /// A Python package index speaking the simple API (PEP 503/691), as pip's --index-url.
    /// [default: $PIP_INDEX_URL, else https://pypi.org/simple]
    #[arg(long, value_name = "URL", conflicts_with = "archive")]
    pub index_url: Option<String>,

    /// Unpack this already-downloaded sdist (`ntc_templates-VERSION.tar.gz`) instead of
    /// downloading; checked against the built-in digest when it is the pinned release.
    #[arg(long, value_name = "FILE")]
    pub archive: Option<PathBuf>,

    /// The archive's expected sha256, for an --archive of a release other than the pinned one.
    #[arg(long, value_name = "HEX", requires = "archive")]
    pub sha256: Option<String>,

    /// Where to unpack. [default: netsweep's data directory, $XDG_DATA_HOME/netsweep/ntc-templates]
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
}

/// `netsweep templates list` flags.
#[derive(Debug, Args)]
pub struct TemplatesListArgs {
    /// Only this platform (ntc-templates' name, e.g. `cisco_ios`).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// The ntc-templates directory (with its `index`). [default: found as netmiko finds it]
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0    every device ok
  1    at least one device failed (see the summary)
  2    usage or inventory error (nothing was swept)
  3    stopped by --canary or --max-failures; devices not swept (resume to continue)
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

  # Spare the TACACS+ server: 20 logins a second, at most 5 devices per site at once:
  netsweep run -c 'show version' --connect-rate 20 --max-per-group 5 --retries 2

  # Try 10 devices first; stop there unless all are ok, and stop after 20 failures:
  netsweep run -c 'show running-config' --canary 10 --max-failures 20

Exit codes:
  0    every device ok
  1    at least one device failed (see the summary)
  2    usage or inventory error (nothing was swept)
  3    stopped by --canary or --max-failures; devices not swept (resume to continue)
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
    /// Parsed rows (`--parse`) as aligned columns, one line per row, device first.
    Table,
    /// Parsed rows (`--parse`) as CSV, one line per row, device first.
    Csv,
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
        required_unless_present_any = ["resume", "config", "config_lines"]
    )]
    pub commands: Vec<String>,

    /// Named commands of your own for `-c @NAME`, in a YAML file: for each name a `default`
    /// command and per-platform ones (`bgp: {default: show ip bgp summary, juniper_junos:
    /// show bgp summary}`). Built in: @version, @interfaces, @running-config, @clock.
    #[arg(long = "commands", value_name = "FILE")]
    pub commands_file: Option<PathBuf>,

    /// Platforms netsweep does not know, in a YAML file: a list of definitions in the shape
    /// `netsweep platforms --format json` shows (each entry's `definition`), full, or
    /// `base: cisco_ios` plus the fields that differ. An inventory can also define them under
    /// `platforms:`.
    #[arg(long, value_name = "FILE")]
    pub platforms: Option<PathBuf>,

    /// The configuration change (`--config` and the flags that go with it).
    #[command(flatten)]
    pub change: crate::change::ChangeArgs,

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

    /// Output format on stdout (`table` and `csv` print parsed rows: they need `--parse`).
    #[arg(long, value_enum, default_value_t = FormatChoice::Text)]
    pub format: FormatChoice,

    /// Parse each output into rows with the ntc-templates template for the device's
    /// platform and the command (as netmiko's `use_textfsm=True`): records get
    /// `outputs[i].parsed` (or `parse_error`), the raw output is kept.
    #[arg(long)]
    pub parse: bool,

    /// The ntc-templates directory (with its `index`) for `--parse`.
    /// [default: found as netmiko finds it; see `netsweep parse --help`]
    #[arg(long, value_name = "DIR", requires = "parse")]
    pub templates: Option<PathBuf>,

    /// Your own template for one command, bypassing the index: `"show foo=foo.textfsm"`.
    /// Repeatable.
    #[arg(long, value_name = "CMD=FILE", requires = "parse")]
    pub template: Vec<String>,

    /// Columns of `--format table|csv`, in order: `hostname,version,serial` (the device
    /// name always comes first).
    #[arg(long, value_delimiter = ',', value_name = "FIELD,...")]
    pub fields: Vec<String>,

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

    /// OpenSSH client config to resolve devices' hosts in (HostName, Port, IdentityFile,
    /// ProxyJump, algorithms, …); the inventory entry beats it. [default: ~/.ssh/config
    /// when it exists]
    #[arg(long, value_name = "FILE", conflicts_with = "no_ssh_config")]
    pub ssh_config: Option<PathBuf>,

    /// Read no ssh_config at all, not even ~/.ssh/config.
    #[arg(long)]
    pub no_ssh_config: bool,

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
    /// lost, AAA server not answering, worker crashed); never for rejected credentials or
    /// host keys.
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

    /// Pacing and blast radius.
    #[command(flatten)]
    pub controls: ControlArgs,

    /// Sweeping from many machines.
    #[command(flatten)]
    pub shards: ShardArgs,
}

/// `netsweep run` flags that pace a sweep and limit how far a failing one goes.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Pacing and blast radius")]
pub struct ControlArgs {
    /// At most N new sessions per second, across all workers (retries included), so a
    /// TACACS+/RADIUS server is not hit by hundreds of logins at once. Decimals allowed
    /// (0.5 = one every 2 s). Per netsweep process: with --shard, give each shard its part.
    #[arg(long, value_name = "N")]
    pub connect_rate: Option<netsweep_pool::ConnectRate>,

    /// At most N devices of any one inventory group at once (a site, the devices behind one
    /// AAA server); a device in several groups counts against each. Devices of a full group
    /// wait; the others go on.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_per_group: Option<u32>,

    /// Sweep the first N selected devices alone, wait for them, and go on only if every one
    /// is ok; otherwise stop (exit code 3) and leave the rest unswept.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
        conflicts_with = "canary_group")]
    pub canary: Option<u32>,

    /// Like --canary, with the devices of inventory group NAME as the canary.
    #[arg(long, value_name = "NAME")]
    pub canary_group: Option<String>,

    /// Stop starting devices once N have failed, or P% of the devices this run sweeps
    /// (rounded up). Running devices finish; the rest get no record, so --resume continues
    /// after a fix. Exit code 3.
    #[arg(long, value_name = "N|P%")]
    pub max_failures: Option<netsweep_pool::FailureLimit>,
}

/// `netsweep run` flags for a sweep split over many machines (`netsweep merge` joins the
/// results).
#[derive(Debug, Args)]
#[command(next_help_heading = "Sweeping from many machines")]
pub struct ShardArgs {
    /// Sweep only shard K of N (1-based; a device is in shard xxh64(name) % N + 1), or
    /// `auto`: K from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID
    /// (Slurm job array), both 0-based, and N from NETSWEEP_SHARD_COUNT. Needs a run id.
    #[arg(long, value_name = "K/N|auto", value_parser = parse_shard_spec)]
    pub shard: Option<netsweep_shard::ShardSpec>,

    /// The sweep's id, the same for all its shards: with --journal DIR/, the journal is
    /// DIR/<run id>/shard-K-of-N.jsonl, and a shard whose journal is already there (a retried
    /// pod, a requeued task) carries it on. [env: NETSWEEP_RUN_ID]
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,

    /// Exit 0 when the sweep ran to its end even if devices failed (their failures are in
    /// the journal, and in `netsweep report`'s exit code). For batch engines, which would
    /// retry a shard or mark it failed for exit code 1.
    #[arg(long)]
    pub exit_zero: bool,
}

/// `netsweep merge` flags.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard journals, or a directory holding them (DIR/<run id>/ of `run --journal DIR/`).
    #[arg(value_name = "DIR|FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// The merged journal to write (atomically; an existing file is replaced whole).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Merge even though some shards have no journal; their devices get no record, and a
    /// `run --resume` of the merged journal sweeps them.
    #[arg(long)]
    pub allow_missing: bool,
}

const MERGE_EXAMPLES: &str = "\
Examples:
  # The shards of run sweep-42, written with --journal /results/ --run-id sweep-42:
  netsweep merge /results/sweep-42/ -o /results/sweep-42/merged.jsonl
  netsweep report /results/sweep-42/merged.jsonl --format summary

  # Redo the failed devices on one machine:
  netsweep run --resume /results/sweep-42/merged.jsonl --rerun-failed -i devices.yaml

Refused (exit code 2, naming the file and line): a shard missing (unless --allow-missing)
or given twice; headers that disagree (run id, shard count, partition, inventory digest,
commands, options); a device in a shard that does not own it, or in two shards; a damaged
line anywhere but at a file's end; a shard still being written. A device recorded twice
within its shard (a resume) keeps its last record. Exit code 0 once merged, whatever the
devices' outcomes: `netsweep report` tells those.";

fn parse_shard_spec(text: &str) -> Result<netsweep_shard::ShardSpec, String> {
    text.parse()
        .map_err(|e: netsweep_shard::ShardError| e.to_string())
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

const PLATFORMS_EXAMPLES: &str = "\
Examples:
  netsweep platforms
  netsweep platforms --format json | jq '.[] | {name, aliases: .definition.aliases}'
  # With your own platforms (a file, or an inventory's platforms:):
  netsweep platforms --platforms my-platforms.yaml -i devices.yaml

Any name or alias is a device_type in devices.yaml; `autodetect` finds the platform from the
SSH ident, the prompt and at most one show-version-style command.";

/// `netsweep platforms` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlatformsFormat {
    /// A table.
    Text,
    /// A JSON array: each platform's name, whether it is built in, its modes, and its full
    /// `definition` (the shape `--platforms` files use).
    Json,
}

/// `netsweep platforms` flags.
#[derive(Debug, Args)]
pub struct PlatformsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlatformsFormat::Text)]
    pub format: PlatformsFormat,

    /// Also list the platforms defined in this file.
    #[arg(long, value_name = "FILE")]
    pub platforms: Option<PathBuf>,

    /// Also list the platforms this inventory defines under `platforms:`.
    #[arg(short, long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
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

    /// Parse the journal's outputs again into rows (as `run --parse`), without contacting
    /// any device: with new templates, or for a sweep run without `--parse`.
    #[arg(long)]
    pub parse: bool,

    /// The ntc-templates directory for `--parse`. [default: found as netmiko finds it]
    #[arg(long, value_name = "DIR", requires = "parse")]
    pub templates: Option<PathBuf>,

    /// Your own template for one command: `"show foo=foo.textfsm"`. Repeatable.
    #[arg(long, value_name = "CMD=FILE", requires = "parse")]
    pub template: Vec<String>,

    /// Print the configuration diffs a `run --config --diff` kept, one per device, and
    /// nothing else (devices without a diff are left out).
    #[arg(long, conflicts_with_all = ["parse", "merge"])]
    pub diff: bool,
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

    #[test]
    fn control_flags_parse_and_bad_values_are_usage_errors() {
        let cli = Cli::try_parse_from([
            "netsweep",
            "run",
            "-c",
            "x",
            "--connect-rate",
            "2.5",
            "--max-per-group",
            "3",
            "--canary-group",
            "core",
            "--max-failures",
            "5%",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        let c = &run.controls;
        assert_eq!(c.connect_rate.map(|r| r.per_second()), Some(2.5));
        assert_eq!(c.max_per_group, Some(3));
        assert_eq!(c.canary_group.as_deref(), Some("core"));
        assert_eq!(
            c.max_failures,
            Some(netsweep_pool::FailureLimit::Percent(5.0))
        );
        for bad in [
            &["--connect-rate", "0"][..],
            &["--max-per-group", "0"],
            &["--canary", "0"],
            &["--max-failures", "0"],
            &["--max-failures", "150%"],
            &["--canary", "3", "--canary-group", "core"],
        ] {
            let err =
                Cli::try_parse_from(["netsweep", "run", "-c", "x"].iter().chain(bad)).unwrap_err();
            assert!(err.use_stderr(), "{bad:?}");
        }
    }

    #[test]
    fn shard_flags_parse_and_bad_shards_are_usage_errors() {
        let cli = Cli::try_parse_from(["netsweep", "run", "-c", "x", "--shard", "2/8"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(
            run.shards.shard,
            Some(netsweep_shard::ShardSpec::Fixed(
                netsweep_shard::Shard::new(2, 8).unwrap()
            ))
        );
        for bad in ["0/8", "9/8", "2", "two/8"] {
            let err =
                Cli::try_parse_from(["netsweep", "run", "-c", "x", "--shard", bad]).unwrap_err();
            assert!(err.use_stderr(), "{bad}");
        }
        let cli = Cli::try_parse_from(["netsweep", "merge", "runs/x/", "-o", "m.jsonl"]).unwrap();
        assert!(matches!(cli.command, Command::Merge(_)));
        assert!(Cli::try_parse_from(["netsweep", "merge", "runs/x/"]).is_err());
    }
}
