//! Full IOS sessions per second against one simulator process serving 5,000 devices.
//!
//! `cargo bench -p netsweep-sim --bench session_rate` — prints a figure, asserts nothing.
//! Each session is what a sweep does: TCP connect, SSH handshake, password login, a PTY shell,
//! `enable` + secret, `terminal length 0`, `show clock`, `exit`. 32 client threads (libssh2 via
//! the `ssh2` crate) take devices round-robin. Environment overrides: `SIM_DEVICES`,
//! `SIM_THREADS`, `SIM_SESSIONS`.
#![allow(clippy::print_stdout, missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use netsweep_sim::{Fleet, FleetSpec, GenerateOptions, Platform, raise_fd_limit};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Target {
    addr: SocketAddr,
    hostname: String,
}

fn main() {
    let devices = env_or("SIM_DEVICES", 5_000);
    let threads = env_or("SIM_THREADS", 32);
    let sessions = env_or("SIM_SESSIONS", 10_000);
    let limit = raise_fd_limit().expect("raise the open-file limit");

    let spec = FleetSpec::generate(&GenerateOptions {
        count: devices,
        platforms: vec![Platform::CiscoIos],
        seed: 1,
        ..Default::default()
    })
    .expect("fleet spec");
    let started = Instant::now();
    let fleet = Fleet::start(spec).expect("fleet starts");
    println!(
        "simulator: {devices} devices listening after {:.2?} (open-file limit {limit})",
        started.elapsed()
    );
    let (user, password, secret) = {
        let d = &fleet.devices()[0];
        (d.username.clone(), d.password.clone(), d.secret.clone())
    };
    let targets: Arc<Vec<Target>> = Arc::new(
        fleet
            .devices()
            .iter()
            .map(|d| Target {
                addr: d.addr,
                hostname: d.hostname.clone(),
            })
            .collect(),
    );

    // Warm-up: page in code paths and let the runtime's threads spin up.
    let warmup = threads * 4;
    let rounds = [("warm-up", warmup), ("measured", sessions)];
    let next = Arc::new(AtomicUsize::new(0));
    for (label, count) in rounds {
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (targets, next, done) = (targets.clone(), next.clone(), done.clone());
                let (user, password, secret) = (user.clone(), password.clone(), secret.clone());
                std::thread::spawn(move || {
                    while done.fetch_add(1, Ordering::Relaxed) < count {
                        let i = next.fetch_add(1, Ordering::Relaxed) % targets.len();
                        let target = &targets[i];
                        if let Err(e) = session(target, &user, &password, &secret) {
                            panic!("session to {} failed: {e}", target.addr);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("client thread");
        }
        let elapsed = started.elapsed();
        if label == "measured" {
            println!(
                "session_rate: {count} full IOS sessions with {threads} threads over {devices} devices in {elapsed:.2?}: {:.0} sessions/s",
                count as f64 / elapsed.as_secs_f64()
            );
        }
    }
    let total: u64 = fleet
        .devices()
        .iter()
        .map(|d| fleet.counters(&d.name).unwrap().commands)
        .sum();
    println!("simulator counted {total} commands");
    fleet.shutdown();
}

fn session(
    target: &Target,
    user: &str,
    password: &str,
    secret: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let tcp = TcpStream::connect_timeout(&target.addr, Duration::from_secs(10))?;
    tcp.set_nodelay(true)?;
    let mut ssh = ssh2::Session::new()?;
    ssh.set_timeout(10_000);
    ssh.set_tcp_stream(tcp);
    ssh.handshake()?;
    ssh.userauth_password(user, password)?;
    let mut channel = ssh.channel_session()?;
    channel.request_pty("vt100", None, None)?;
    channel.shell()?;
    let user_prompt = format!("{}>", target.hostname);
    let enable_prompt = format!("{}#", target.hostname);
    let mut buffer = Vec::with_capacity(4096);
    read_until(&mut channel, &mut buffer, user_prompt.as_bytes())?;
    for (send, expect) in [
        ("enable\r".to_owned(), "Password: ".as_bytes()),
        (format!("{secret}\r"), enable_prompt.as_bytes()),
        ("terminal length 0\r".to_owned(), enable_prompt.as_bytes()),
        ("show clock\r".to_owned(), enable_prompt.as_bytes()),
    ] {
        channel.write_all(send.as_bytes())?;
        read_until(&mut channel, &mut buffer, expect)?;
    }
    channel.write_all(b"exit\r")?;
    let mut rest = Vec::new();
    channel.read_to_end(&mut rest)?;
    channel.wait_close()?;
    ssh.disconnect(None, "done", None)?;
    Ok(())
}

fn read_until(
    channel: &mut ssh2::Channel,
    buffer: &mut Vec<u8>,
    needle: &[u8],
) -> Result<(), Box<dyn std::error::Error>> {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = channel.read(&mut chunk)?;
        if n == 0 {
            return Err(format!(
                "channel closed waiting for {:?}",
                String::from_utf8_lossy(needle)
            )
            .into());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer.ends_with(needle) {
            return Ok(());
        }
    }
}
