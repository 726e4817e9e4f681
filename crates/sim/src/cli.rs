//! The `netsweep-sim` command line: flags to a fleet, one ready line, serve until a signal or
//! `--duration`, then every device's counters.
//!
//! The only module of this crate that prints. Exit codes: 0 after a normal stop, 2 for a bad
//! fleet definition or bad flags (including an address that cannot be bound), 1 for anything
//! else.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsString;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use netsweep_protocol::error_chain;

use crate::{
    Fleet, FleetSpec, GenerateOptions, Platform, SimError, Spread, Transport, parse_duration,
    parse_fault_shares, parse_size, raise_fd_limit,
};

/// `--help`'s closing text: the platforms (from the models), faults and examples.
fn after_help() -> String {
    let platforms: Vec<String> = Platform::all()
        .map(|p| {
            let spec = netsweep_platform::builtin()
                .get(p.as_str())
                .map(|t| t.spec().clone());
            let aliases = spec
                .as_ref()
                .map(|s| {
                    s.aliases
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let name = if aliases.is_empty() {
                p.as_str().to_owned()
            } else {
                format!("{} ({})", p.as_str(), aliases.join(", "))
            };
            let about = spec.map(|s| s.description).unwrap_or_default();
            format!("  {name:<36}{about}")
        })
        .collect();
    format!(
        "Platforms (--platform; each with its prompts, modes, paging, error texts and the outputs of its\n\
         common commands: version, interfaces, running configuration, clock):\n{}\n\n{AFTER_HELP}",
        platforms.join("\n")
    )
}

const AFTER_HELP: &str = "\
Transports (--transport): ssh (the default), or telnet: option negotiation (will echo, will
suppress go-ahead, asks for the terminal type and window size), then the login prompts (network
platforms `Username:`, linux `<host> login:`, both `Password:`; a refused login shows the prompt
again, the third closes the connection), then the same CLI; a linux device is its `$ ` shell
over telnet. Telnet sends passwords in clear text: loopback rehearsals only.

Faults (--faults NAME[=AMOUNT],…; AMOUNT is N% of the fleet, rounded up, or N devices; none: all):
  refuse           nothing listens on the address
  hang-banner      TCP accepted, the SSH banner (telnet: the login prompt) never comes
  hang-after-auth  login works, the shell never prompts (an exec never answers)
  hang-mid-output  a command's output stops half way; the device goes silent
  drop-mid-output  TCP closes half way through a command's output
  auth             every password and key is rejected
  enable-fail      `enable` is always refused (platforms with enable; the login lands in
                   user mode)
  flaky:N          the first N connections are dropped at once, later ones work
  legacy           only diffie-hellman-group14-sha1, ssh-rsa, aes128-ctr, hmac-sha1 (SSH only)
  hostkey-change   a new host key on every connection (SSH only)
  garbage          the shell prints noise and never a prompt

Examples:
  # A mixed fleet of 30: IOS, Junos and Huawei in turn:
  netsweep-sim --count 30 --platform cisco_ios,juniper_junos,huawei --write-inventory mixed.yaml

  # 1,000 IOS devices on 127.0.0.1:20001…, 200 ms ± 50 ms per command, a few faults:
  netsweep-sim --count 1000 --base-port 20001 --latency 200ms --jitter 50ms \\
      --faults hang-banner=1%,drop-mid-output=1%,auth=2% --seed 42 --write-inventory sim.yaml

  # Every device on its own address (127.0.1.1:2222, 127.0.1.2:2222, …) for 30 seconds:
  netsweep-sim --count 50 --spread addrs --base-addr 127.0.1.1 --base-port 2222 --duration 30s

  # Rehearse a real inventory's size and failure mix (its hosts must be loopback):
  netsweep-sim --inventory rehearsal.yaml

The fleet is ready when the `ready:` line is printed. Host keys are derived from --seed and the
device name, so known_hosts entries stay valid across restarts with the same seed.
Exit codes: 0 stopped normally, 1 runtime failure, 2 bad flags or fleet definition.";

#[derive(Parser, Debug)]
#[command(
    name = "netsweep-sim",
    version,
    about = "Serve a simulated fleet of network devices and Linux hosts on loopback, over SSH or telnet.",
    after_help = after_help(),
    args_conflicts_with_subcommands = true
)]
struct Args {
    /// Without one, serve the fleet the flags describe.
    #[command(subcommand)]
    command: Option<Extra>,

    /// Number of devices to generate.
    #[arg(long, default_value_t = 10, value_name = "N")]
    count: usize,

    /// Platforms, comma-separated, assigned round-robin (any device_type below, e.g.
    /// cisco_ios,juniper_junos,huawei).
    #[arg(long, value_name = "LIST", default_value = "cisco_ios", value_parser = parse_platforms)]
    platform: Platforms,

    /// How the devices are reached: ssh, or telnet (login prompts, clear text).
    #[arg(long, value_enum, default_value_t = TransportArg::Ssh)]
    transport: TransportArg,

    /// Delay before each command's output (prompts answer at once), e.g. 200ms.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    latency: Duration,

    /// Random ± variation of the latency, reproducible for the seed.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    jitter: Duration,

    /// Round-trip time to every device, as over a WAN: each byte a device receives and sends
    /// is delayed by half of it (applies to --inventory fleets too), e.g. 100ms.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    rtt: Duration,

    /// Delay between the TCP accept and the SSH banner.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    banner_delay: Duration,

    /// Send command output at this many bytes per second (e.g. 9600, 64k).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    trickle: Option<usize>,

    /// Size of `show running-config` (e.g. 4k, 2M).
    #[arg(long, value_name = "BYTES", default_value = "4k", value_parser = parse_size)]
    running_config_bytes: usize,

    /// Log in straight to privileged mode (`host#`), like a privilege-15 account.
    #[arg(long)]
    privilege15: bool,

    /// Faults and how many devices get each, e.g. hang-banner=1%,auth=3,flaky:2=5%.
    #[arg(long, value_name = "LIST", default_value = "")]
    faults: String,

    /// Seed for host keys, jitter and fault placement.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// First (or only) address; loopback only.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    base_addr: IpAddr,

    /// First (or only) port; 0 picks free ports.
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    base_port: u16,

    /// Give each device its own port on one address, or its own address on one port.
    #[arg(long, value_enum, default_value_t = SpreadArg::Ports)]
    spread: SpreadArg,

    /// Device names: this prefix and a number (sim0001, sim0002, …).
    #[arg(long, value_name = "PREFIX", default_value = "sim")]
    name_prefix: String,

    /// Serve exactly the devices of this devices.yaml (hosts must be loopback) instead of
    /// generating a fleet; per-device `simulate:` blocks set faults and timing.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "count", "platform", "transport", "latency", "jitter", "banner_delay", "trickle",
        "running_config_bytes", "privilege15", "faults", "base_addr", "base_port", "spread",
        "name_prefix",
    ])]
    inventory: Option<PathBuf>,

    /// Write a netmiko-style devices.yaml for the fleet (with bound ports), and the expected
    /// outcome of every device beside it (FILE with .expected.json).
    #[arg(long, value_name = "FILE")]
    write_inventory: Option<PathBuf>,

    /// Stop after this long instead of waiting for Ctrl-C or SIGTERM.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,

    /// When stopping, write every TCP session the fleet served to FILE, one JSON object a
    /// line: device, accepted_ms and closed_ms (since the fleet started). Shows how a client
    /// paced its logins (new sessions per second, sessions open at once).
    #[arg(long, value_name = "FILE")]
    session_log: Option<PathBuf>,
}

/// What else `netsweep-sim` can do besides serving a fleet.
#[derive(Subcommand, Debug)]
enum Extra {
    /// Print a completion script for your shell (bash, zsh, fish, powershell, elvish).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    Man,
}

#[derive(Clone, Debug)]
struct Platforms(Vec<Platform>);

fn parse_platforms(s: &str) -> Result<Platforms, SimError> {
    let platforms = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect::<Result<Vec<Platform>, _>>()?;
    if platforms.is_empty() {
        return Err(SimError::Invalid("no platform given".into()));
    }
    Ok(Platforms(platforms))
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TransportArg {
    /// SSH: host keys, password and key logins, exec channels.
    Ssh,
    /// Telnet: negotiation, the platform's login prompts, one CLI session.
    Telnet,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SpreadArg {
    /// 127.0.0.1:20001, 127.0.0.1:20002, …
    Ports,
    /// 127.0.1.1:2222, 127.0.1.2:2222, …
    Addrs,
}

/// Runs `netsweep-sim` with the process's arguments and standard streams.
pub fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
}

/// Runs `netsweep-sim` with these arguments (the first is the program name), printing to
/// `out` and `err`.
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let text = e.render().to_string();
            let stream: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = write!(stream, "{text}");
            return ExitCode::from(code);
        }
    };
    if let Some(extra) = &args.command {
        return print_extra(extra, out, err);
    }
    match serve(&args, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // One line: `device r1: cannot listen on …: Address in use`.
            let _ = writeln!(err, "netsweep-sim: error: {}", error_chain(&failure.error));
            ExitCode::from(failure.code)
        }
    }
}

/// Completions and the manual page, generated from the flag definitions above.
fn print_extra(extra: &Extra, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let mut text = Vec::new();
    match extra {
        Extra::Completions { shell } => {
            clap_complete::generate(*shell, &mut Args::command(), "netsweep-sim", &mut text);
        }
        Extra::Man => {
            if let Err(e) = clap_mangen::Man::new(Args::command()).render(&mut text) {
                let _ = writeln!(
                    err,
                    "netsweep-sim: error: cannot render the manual page: {e}"
                );
                return ExitCode::from(1);
            }
        }
    }
    // A reader that went away early (`netsweep-sim man | head`) is not a failure.
    let _ = out.write_all(&text).and_then(|()| out.flush());
    ExitCode::SUCCESS
}

struct Failure {
    error: SimError,
    code: u8,
}

impl From<SimError> for Failure {
    fn from(error: SimError) -> Self {
        let code = match error {
            SimError::Runtime(_) | SimError::Write { .. } => 1,
            _ => 2,
        };
        Failure { error, code }
    }
}

fn serve(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let mut spec = match &args.inventory {
        Some(path) => FleetSpec::from_inventory(path, args.seed)?,
        None => FleetSpec::generate(&GenerateOptions {
            count: args.count,
            platforms: args.platform.0.clone(),
            transport: match args.transport {
                TransportArg::Ssh => Transport::Ssh,
                TransportArg::Telnet => Transport::Telnet,
            },
            latency: args.latency,
            jitter: args.jitter,
            banner_delay: args.banner_delay,
            trickle_bytes_per_sec: args.trickle.map(|t| t as u64),
            running_config_bytes: args.running_config_bytes,
            privilege15: args.privilege15,
            faults: parse_fault_shares(&args.faults)?,
            seed: args.seed,
            base_addr: args.base_addr,
            base_port: args.base_port,
            spread: match args.spread {
                SpreadArg::Ports => Spread::Ports,
                SpreadArg::Addrs => Spread::Addrs,
            },
            name_prefix: args.name_prefix.clone(),
        })?,
    };
    for device in &mut spec.devices {
        device.behaviour.rtt = args.rtt;
    }
    if let Err(e) = raise_fd_limit() {
        tracing::warn!(error = %e, "could not raise the open-file limit");
    }
    let fleet = Fleet::start(spec)?;
    if let Some(path) = &args.write_inventory {
        fleet.spec().write_inventory(path)?;
    }
    let _ = writeln!(out, "{}", ready_line(&fleet, args));
    let _ = out.flush();

    wait_for_stop(args.duration).map_err(|e| Failure {
        error: SimError::Runtime(e),
        code: 1,
    })?;
    if let Some(path) = &args.session_log {
        write_session_log(path, &fleet)?;
    }

    let counters: Vec<_> = fleet
        .devices()
        .iter()
        .map(|d| {
            (
                d.name.clone(),
                d.addr,
                fleet.counters(&d.name).unwrap_or_default(),
            )
        })
        .collect();
    fleet.shutdown();
    let width = counters
        .iter()
        .map(|(n, ..)| n.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:<21}  {:>11}  {:>7}  {:>11}  {:>8}  {:>12}  {:>5}",
        "device",
        "address",
        "connections",
        "auth_ok",
        "auth_failed",
        "commands",
        "config_lines",
        "saves"
    );
    for (name, addr, c) in counters {
        let _ = writeln!(
            out,
            "{name:<width$}  {:<21}  {:>11}  {:>7}  {:>11}  {:>8}  {:>12}  {:>5}",
            addr.to_string(),
            c.connections,
            c.auth_ok,
            c.auth_failed,
            c.commands,
            c.config_lines,
            c.saves
        );
    }
    let _ = out.flush();
    Ok(())
}

fn write_session_log(path: &std::path::Path, fleet: &Fleet) -> Result<(), SimError> {
    let mut text = String::new();
    for span in fleet.sessions() {
        text.push_str(&serde_json::to_string(&span).expect("a span serializes"));
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|source| SimError::Write {
        path: path.to_owned(),
        source,
    })
}

fn ready_line(fleet: &Fleet, args: &Args) -> String {
    let devices = fleet.devices();
    let per_platform: Vec<String> = Platform::all()
        .filter_map(|p| {
            let n = devices.iter().filter(|d| d.platform == p).count();
            (n > 0).then(|| format!("{n} {p}"))
        })
        .collect();
    let faulty = devices
        .iter()
        .filter(|d| !d.behaviour.faults.is_empty())
        .count();
    let telnet = devices
        .iter()
        .filter(|d| d.transport == Transport::Telnet)
        .count();
    let (first, last) = (devices[0].addr, devices[devices.len() - 1].addr);
    let over_telnet = if telnet > 0 {
        format!(", {telnet} over telnet")
    } else {
        String::new()
    };
    let mut line = format!(
        "ready: {} devices ({}, {faulty} with faults{over_telnet}) on {first}",
        devices.len(),
        per_platform.join(", ")
    );
    if devices.len() > 1 {
        line.push_str(&format!(" … {last}"));
    }
    line.push_str(&format!(", seed {}", args.seed));
    if let Some(path) = &args.write_inventory {
        line.push_str(&format!(", inventory {}", path.display()));
    }
    line.push_str(match args.duration {
        Some(_) => ", stopping after --duration",
        None => ", Ctrl-C to stop",
    });
    line
}

/// Blocks until SIGINT, SIGTERM or the duration passes.
fn wait_for_stop(duration: Option<Duration>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let timer = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
            () = timer => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_cli(args: &[&str]) -> (u8, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = run(
            std::iter::once("netsweep-sim").chain(args.iter().copied()),
            &mut out,
            &mut err,
        );
        let code = if code == ExitCode::SUCCESS {
            0
        } else if code == ExitCode::from(2) {
            2
        } else {
            1
        };
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn bad_definitions_exit_2_with_the_problem_named() {
        for (args, needle) in [
            (
                &["--platform", "juniper_screenos"][..],
                "unknown platform \"juniper_screenos\"",
            ),
            (&["--faults", "hang=1%"], "unknown fault \"hang\""),
            (&["--faults", "auth=120%"], "bad amount \"120%\""),
            (
                &["--base-addr", "10.1.1.1"],
                "10.1.1.1 is not a loopback address",
            ),
            (&["--latency", "200"], "bad duration \"200\""),
            (&["--count", "0"], "bad device count 0"),
            (
                &["--inventory", "/nonexistent/devices.yaml"],
                "/nonexistent/devices.yaml",
            ),
            (
                &["--count", "3", "--inventory", "x.yaml"],
                "cannot be used with",
            ),
        ] {
            let (code, _, err) = run_cli(args);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn help_teaches_with_examples() {
        let (code, out, _) = run_cli(&["--help"]);
        assert_eq!(code, 0);
        assert!(
            out.contains("Examples:") && out.contains("hang-mid-output"),
            "{out}"
        );
    }

    #[test]
    fn serves_writes_the_inventory_and_prints_counters() {
        let dir = tempfile::tempdir().unwrap();
        let inventory = dir.path().join("fleet.yaml");
        let (code, out, err) = run_cli(&[
            "--count",
            "3",
            "--platform",
            "cisco_ios,linux",
            "--faults",
            "auth=1",
            "--seed",
            "5",
            "--duration",
            "100ms",
            "--write-inventory",
            inventory.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let mut lines = out.lines();
        let ready = lines.next().unwrap();
        assert!(
            ready.starts_with(
                "ready: 3 devices (2 cisco_ios, 1 linux, 1 with faults) on 127.0.0.1:"
            ),
            "{ready}"
        );
        assert!(lines.next().unwrap().starts_with("device "));
        assert_eq!(lines.filter(|l| l.starts_with("sim000")).count(), 3);
        let yaml = std::fs::read_to_string(&inventory).unwrap();
        assert_eq!(yaml.matches("- name: ").count(), 3);
        assert!(!yaml.contains("port: 0\n"), "{yaml}");
        assert!(dir.path().join("fleet.expected.json").exists());
    }
}
