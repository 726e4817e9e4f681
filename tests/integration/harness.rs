//! Helpers for the integration tests: simulated fleets with inventories on disk, and the real
//! binaries run with a time limit.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use netsweep_protocol::{DeviceTarget, HostKeyPolicy, Job, Secret, Timeouts};
use netsweep_sim::{DeviceSpec, Fleet, FleetSpec};
pub use netsweep_testkit::poll_until;
use tempfile::TempDir;

/// Path of one of the package's binaries, as cargo built it for this test run.
pub fn bin(name: &str) -> PathBuf {
    match name {
        "netsweep" => PathBuf::from(env!("CARGO_BIN_EXE_netsweep")),
        "netsweep-worker" => PathBuf::from(env!("CARGO_BIN_EXE_netsweep-worker")),
        "netsweep-sim" => PathBuf::from(env!("CARGO_BIN_EXE_netsweep-sim")),
        other => panic!("no binary {other}"),
    }
}

/// A running simulated fleet, with its inventory written into a temp dir.
pub struct TestFleet {
    pub fleet: Fleet,
    pub dir: TempDir,
    pub inventory: PathBuf,
    pub known_hosts: PathBuf,
}

impl TestFleet {
    /// Starts `devices` (ports 0 = any free port) and writes their inventory.
    pub fn start(devices: Vec<DeviceSpec>) -> TestFleet {
        let fleet = Fleet::start(FleetSpec { seed: 7, devices }).expect("start the simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let inventory = dir.path().join("devices.yaml");
        FleetSpec {
            seed: 7,
            devices: fleet.devices().to_vec(),
        }
        .write_inventory(&inventory)
        .expect("write the inventory");
        let known_hosts = dir.path().join("known_hosts");
        TestFleet {
            fleet,
            dir,
            inventory,
            known_hosts,
        }
    }

    /// A job for every device, in fleet order, running `commands` (Linux devices run
    /// `linux_commands` instead).
    pub fn jobs(&self, commands: &[&str], linux_commands: &[&str], timeouts: Timeouts) -> Vec<Job> {
        self.fleet
            .devices()
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let linux = d.platform == netsweep_sim::Platform::Linux;
                Job {
                    id: i as u64,
                    attempt: 1,
                    target: target_of(d),
                    commands: if linux { linux_commands } else { commands }
                        .iter()
                        .map(|c| c.to_string())
                        .collect(),
                    timeouts,
                    host_key_policy: HostKeyPolicy::AcceptNew,
                    known_hosts: Some(self.known_hosts.clone()),
                    platform_definition: None,
                    named_commands: Vec::new(),
                    parse: None,
                    change: None,
                }
            })
            .collect()
    }
}

/// The client's view of a simulated device: where it is and how to log in.
pub fn target_of(d: &DeviceSpec) -> DeviceTarget {
    DeviceTarget {
        name: d.name.clone(),
        host: d.addr.ip().to_string(),
        port: d.addr.port(),
        platform: d.platform.as_str().to_string(),
        transport: d.transport,
        username: d.username.clone(),
        password: Some(Secret::new(d.password.clone())),
        secret: Some(Secret::new(d.secret.clone())),
        key_file: None,
        groups: vec![],
        ssh: Default::default(),
    }
}

/// What a finished binary left behind.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `cmd` to completion, draining both pipes while it runs, and kills it if it outlives
/// `limit` (then panics: a hang is a failure, not a wait).
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> Finished {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let status = wait_with_limit(&mut child, limit);
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    match status {
        Some(status) => Finished {
            status,
            stdout,
            stderr,
        },
        None => {
            panic!("{cmd:?} still running after {limit:?}\nstdout:\n{stdout}\nstderr:\n{stderr}")
        }
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` up to `limit`; kills it and returns `None` past that.
pub fn wait_with_limit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `netsweep run` against a test fleet's inventory with a private known_hosts file.
pub fn netsweep_run(fleet: &TestFleet, extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin("netsweep"));
    cmd.arg("run")
        .arg("--inventory")
        .arg(&fleet.inventory)
        .arg("--known-hosts")
        .arg(&fleet.known_hosts)
        .args(extra);
    cmd
}

/// Parses JSON Lines output into values.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Writes `text` to `name` inside `dir`.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A process as /proc shows it.
#[derive(Clone, Debug)]
pub struct ProcInfo {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
}

/// Every process on the machine (those that vanish while we read are skipped).
pub fn processes() -> Vec<ProcInfo> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push(ProcInfo {
            pid,
            comm,
            state,
            ppid,
        });
    }
    out
}

/// Descendants of `ancestor` (children, grandchildren, …) whose command name is `comm`.
/// Workers forked by the fork server are the coordinator's grandchildren.
pub fn descendants_named(ancestor: i32, comm: &str) -> Vec<ProcInfo> {
    let all = processes();
    let mut family = vec![ancestor];
    let mut found = Vec::new();
    while let Some(parent) = family.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            family.push(p.pid);
            if p.comm == comm {
                found.push(p.clone());
            }
        }
    }
    found
}

/// Copies the worker binary under a name of its own, so a test can tell its workers from
/// those of tests running beside it (`comm` is the file name, cut to 15 bytes).
pub fn private_worker(dir: &Path, name: &str) -> PathBuf {
    assert!(name.len() <= 15, "comm names are cut at 15 bytes");
    let path = dir.join(name);
    std::fs::copy(bin("netsweep-worker"), &path).unwrap();
    path
}
