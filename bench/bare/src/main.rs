//! `netsweep-bench-bare`: the practical limit the benchmarks compare netsweep against.
//!
//! It runs, on every device of a netsweep-sim generated inventory, the same IOS session
//! netsweep runs (TCP connect with `TCP_NODELAY`, SSH handshake with netsweep's first-choice
//! algorithms, password login, a 511-column PTY shell, prompt learned from the session,
//! `terminal length 0`, `terminal width 511`, `enable` + secret, the commands, `exit`), reading
//! until the prompt after each command, on W plain threads — and nothing else: no pool, no
//! events, no records, no host-key file, no deadlines beyond libssh2's own timeout. It prints
//! one JSON object with the figures on stdout.
//!
//! It must not grow into a second netsweep: it is a measuring stick, not a tool, and it
//! depends on no netsweep crate so that it stays an independent baseline. It reads only the
//! simple YAML the simulator writes (a top-level list of flat entries), not general inventories.

// A benchmark binary: printing its figures is its whole job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use ssh2::{MethodType, Session};

/// Run the netsweep IOS session on every device of an inventory with W bare ssh2 threads.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Inventory written by `netsweep-sim --write-inventory` (a top-level list of entries).
    #[arg(short, long)]
    inventory: PathBuf,
    /// Client threads, each taking the next device when it finishes one.
    #[arg(short = 'w', long, default_value_t = 32)]
    threads: usize,
    /// Command to run after enable; repeatable.
    #[arg(short = 'c', long = "command", default_value = "show clock")]
    commands: Vec<String>,
    /// libssh2's timeout for any single blocking call, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_s: u32,
}

/// One device of the inventory, as far as a session needs it.
#[derive(Clone, Debug, Default)]
struct Device {
    name: String,
    host: String,
    port: u16,
    username: String,
    password: String,
    secret: String,
}

/// netsweep's first choices (crates/device/src/ssh/connection.rs); libssh2 falls back to its own
/// defaults for anything not listed, which never happens against the simulator.
const PREFERENCES: &[(MethodType, &str)] = &[
    (
        MethodType::Kex,
        "curve25519-sha256,curve25519-sha256@libssh.org",
    ),
    (MethodType::HostKey, "ssh-ed25519"),
    (
        MethodType::CryptCs,
        "aes128-gcm@openssh.com,aes256-ctr,aes128-ctr",
    ),
    (
        MethodType::CryptSc,
        "aes128-gcm@openssh.com,aes256-ctr,aes128-ctr",
    ),
    (
        MethodType::MacCs,
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
    ),
    (
        MethodType::MacSc,
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
    ),
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let args = Args::parse();
    let devices = match read_inventory(&args.inventory) {
        Ok(d) if d.is_empty() => {
            eprintln!("{}: no devices", args.inventory.display());
            return ExitCode::from(2);
        }
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}: {e}", args.inventory.display());
            return ExitCode::from(2);
        }
    };
    let threads = args.threads.max(1);
    let devices = Arc::new(devices);
    let commands = Arc::new(args.commands);
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<(usize, Duration, Result<(), String>)>();
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (devices, commands, next, tx) =
                (devices.clone(), commands.clone(), next.clone(), tx.clone());
            let timeout_ms = args.timeout_s.saturating_mul(1000).max(1);
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(device) = devices.get(i) else { break };
                        let t = Instant::now();
                        let result =
                            session(device, &commands, timeout_ms).map_err(|e| e.to_string());
                        if tx.send((i, t.elapsed(), result)).is_err() {
                            break;
                        }
                    }
                })
        })
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| {
            eprintln!("could not start {threads} threads: {e}");
            std::process::exit(1);
        });
    drop(tx);
    let mut per_device: Vec<f64> = Vec::with_capacity(devices.len());
    let mut failed = 0usize;
    let mut first_error = None;
    for (i, took, result) in rx {
        per_device.push(took.as_secs_f64() * 1000.0);
        if let Err(e) = result {
            failed += 1;
            first_error.get_or_insert_with(|| format!("{}: {e}", devices[i].name));
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    for w in workers {
        let _ = w.join();
    }
    per_device.sort_by(f64::total_cmp);
    let pct = |p: f64| per_device[((per_device.len() - 1) as f64 * p).round() as usize];
    let figures = serde_json::json!({
        "tool": "bare-ssh2",
        "threads": threads,
        "devices": devices.len(),
        "failed": failed,
        "elapsed_s": elapsed,
        "devices_per_s": devices.len() as f64 / elapsed,
        "per_device_ms_p50": pct(0.5),
        "per_device_ms_p95": pct(0.95),
        "per_device_ms_max": pct(1.0),
        "first_error": first_error,
    });
    println!("{figures}");
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The whole session on one device; an error says which step failed.
fn session(device: &Device, commands: &[String], timeout_ms: u32) -> Result<(), BoxError> {
    let addr: SocketAddr = (device.host.as_str(), device.port)
        .to_socket_addrs()?
        .next()
        .ok_or("no address")?;
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_millis(u64::from(timeout_ms)))?;
    tcp.set_nodelay(true)?;
    let socket = tcp.try_clone()?;
    let mut ssh = Session::new()?;
    for (kind, names) in PREFERENCES {
        ssh.method_pref(*kind, names)?;
    }
    ssh.set_timeout(timeout_ms);
    ssh.set_tcp_stream(tcp);
    ssh.handshake().map_err(|e| format!("handshake: {e}"))?;
    ssh.host_key().ok_or("no host key")?;
    ssh.userauth_password(&device.username, &device.password)
        .map_err(|e| format!("auth: {e}"))?;
    let mut channel = ssh.channel_session()?;
    channel.request_pty("vt100", None, Some((511, 24, 0, 0)))?;
    channel.shell()?;

    let mut buffer = Vec::with_capacity(4096);
    read_until(&mut channel, &mut buffer, |b| {
        b.ends_with(b">") || b.ends_with(b"#")
    })
    .map_err(|e| format!("prompt: {e}"))?;
    // The prompt is learned from the session: the last line, e.g. `sim0001>`.
    let last_line = buffer.rsplit(|&c| c == b'\n').next().unwrap_or(&buffer);
    let hostname = String::from_utf8_lossy(last_line)
        .trim_matches(['\r', '>', '#'])
        .to_owned();
    let user_prompt = format!("{hostname}>");
    let enable_prompt = format!("{hostname}#");
    let mut current = if buffer.ends_with(b"#") {
        enable_prompt.clone()
    } else {
        user_prompt
    };

    for setup in ["terminal length 0", "terminal width 511"] {
        run(&mut channel, &mut buffer, setup, &current)?;
    }
    if current != enable_prompt {
        channel.write_all(b"enable\n")?;
        read_until(&mut channel, &mut buffer, |b| {
            b.ends_with(b"Password: ") || b.ends_with(enable_prompt.as_bytes())
        })
        .map_err(|e| format!("enable: {e}"))?;
        if buffer.ends_with(b"Password: ") {
            run(&mut channel, &mut buffer, &device.secret, &enable_prompt)
                .map_err(|e| format!("enable secret: {e}"))?;
        }
        current = enable_prompt;
    }
    for command in commands {
        run(&mut channel, &mut buffer, command, &current)?;
        if buffer.windows(15).any(|w| w == b"% Invalid input") {
            return Err(format!("{command}: % Invalid input").into());
        }
    }
    channel.write_all(b"exit\n")?;
    let _ = channel.send_eof();
    let _ = ssh.disconnect(None, "done", None);
    let _ = socket.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// Sends one line and reads until the prompt comes back.
fn run(
    channel: &mut ssh2::Channel,
    buffer: &mut Vec<u8>,
    line: &str,
    prompt: &str,
) -> Result<(), BoxError> {
    channel.write_all(format!("{line}\n").as_bytes())?;
    read_until(channel, buffer, |b| b.ends_with(prompt.as_bytes()))
        .map_err(|e| format!("{line:?}: {e}").into())
}

fn read_until(
    channel: &mut ssh2::Channel,
    buffer: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> bool,
) -> Result<(), BoxError> {
    buffer.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = channel.read(&mut chunk)?;
        if n == 0 {
            return Err("channel closed before the prompt".into());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if done(buffer) {
            return Ok(());
        }
    }
}

/// Reads the flat top-level list `netsweep-sim --write-inventory` writes: `- name: "x"` starts
/// an entry, `  key: value` lines fill it, deeper lines (a `simulate:` block) are skipped.
fn read_inventory(path: &Path) -> Result<Vec<Device>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut devices = Vec::new();
    let mut current: Option<Device> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let field = if let Some(rest) = line.strip_prefix("- ") {
            devices.extend(current.take());
            current = Some(Device::default());
            rest
        } else if let Some(rest) = line.strip_prefix("  ") {
            if rest.starts_with(' ') {
                continue;
            }
            rest
        } else {
            return Err(format!(
                "line {}: not a flat list entry: {line:?}",
                number + 1
            ));
        };
        let Some(device) = current.as_mut() else {
            return Err(format!("line {}: a field before any entry", number + 1));
        };
        let Some((key, value)) = field.split_once(':') else {
            return Err(format!("line {}: expected `key: value`", number + 1));
        };
        let value = value.trim().trim_matches('"').to_owned();
        match key.trim() {
            "name" => device.name = value,
            "host" | "ip" => device.host = value,
            "port" => {
                device.port = value
                    .parse()
                    .map_err(|_| format!("line {}: bad port {value:?}", number + 1))?
            }
            "username" => device.username = value,
            "password" => device.password = value,
            "secret" => device.secret = value,
            _ => {}
        }
    }
    devices.extend(current);
    for d in &mut devices {
        if d.port == 0 {
            d.port = 22;
        }
        if d.name.is_empty() {
            d.name = format!("{}:{}", d.host, d.port);
        }
    }
    Ok(devices)
}
