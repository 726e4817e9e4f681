//! The fleet as files: a netmiko-style `devices.yaml` for clients, the expected outcome of every
//! device beside it for tests, and reading a fleet back from an inventory.
//!
//! The expected outcome of a device is decided here, once, from its faults: tests and
//! rehearsals compare a sweep's results against this file instead of keeping their own list.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::spec::{Behaviour, DeviceSpec, Fault, FleetSpec, Platform, Transport};

/// What a client should see from each device of a fleet (`<inventory>.expected.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// The fleet's seed.
    pub seed: u64,
    /// Device name → expectation.
    pub devices: BTreeMap<String, ExpectedDevice>,
}

/// What a client should see from one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedDevice {
    /// The canonical platform name (`cisco_ios`, `linux`, `huawei`…).
    pub platform: String,
    /// How the device is reached (left out for SSH).
    #[serde(default, skip_serializing_if = "Transport::is_ssh")]
    pub transport: Transport,
    /// The device's faults, as written in `--faults`.
    pub faults: Vec<String>,
    /// The outcome class a correct client reports (netsweep's `Outcome::class()` names:
    /// `ok`, `auth_failed`, `enable_failed`, `unreachable`, `timed_out`, `host_key_mismatch`,
    /// `connection_lost`, `protocol_error`).
    pub outcome: String,
    /// For `timed_out` and `connection_lost`: the stage (`handshake`, `prompt`, `command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Connections the device drops before it starts working (`flaky:N`, then `aaa-flaky:N`):
    /// a client needs that many retries to reach `outcome`; without them it sees
    /// `connection_lost` at the handshake (`flaky`) or at auth (`aaa-flaky`, over password).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failing_connections: u32,
    /// Anything a test should know to judge the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The outcome a correct client reports for this device, the fault that decides it winning in
/// the order the client meets them (connect, handshake, auth, prompt, enable, command).
pub fn expected_outcome(device: &DeviceSpec) -> ExpectedDevice {
    let b = &device.behaviour;
    // Exec-channel platforms (Linux) have no prompt stage over SSH; over telnet every
    // platform is a shell.
    let shell = device.platform.is_cli() || device.transport == Transport::Telnet;
    let quiet_stage = if shell { "prompt" } else { "command" };
    let (outcome, stage, note) = if b.has(Fault::Refuse) {
        ("unreachable", None, None)
    } else if b.has(Fault::HangBanner) {
        ("timed_out", Some("handshake"), None)
    } else if b.has(Fault::Legacy) {
        (
            "protocol_error",
            None,
            Some(
                "only diffie-hellman-group14-sha1, ssh-rsa, aes128-ctr and hmac-sha1 are offered:                  refused unless SHA-1-era algorithms are allowed (netsweep: `legacy_algorithms:                  true`), then ok",
            ),
        )
    } else if b.has(Fault::HostkeyChange) {
        (
            "host_key_mismatch",
            None,
            Some(
                "the host key is new on every connection: a client that has recorded any key for \
                 the device (strict policy, or a second connection under accept-new) must refuse it",
            ),
        )
    } else if b.has(Fault::Auth) {
        ("auth_failed", None, None)
    } else if b.has(Fault::HangAfterAuth) {
        ("timed_out", Some(quiet_stage), None)
    } else if b.has(Fault::Garbage) {
        (
            "protocol_error",
            None,
            Some("the device prints noise (not UTF-8) and never a prompt"),
        )
    } else if device.platform.has_enable() && b.has(Fault::EnableFail) {
        ("enable_failed", None, None)
    } else if b.has(Fault::HangMidOutput) {
        (
            "timed_out",
            Some("command"),
            Some("the first half of the command's output arrives"),
        )
    } else if b.has(Fault::DropMidOutput) {
        (
            "connection_lost",
            Some("command"),
            Some("the first half of the command's output arrives, then TCP closes"),
        )
    } else {
        ("ok", None, None)
    };
    ExpectedDevice {
        platform: device.platform.to_string(),
        transport: device.transport,
        faults: b.faults.iter().map(Fault::to_string).collect(),
        outcome: outcome.to_owned(),
        stage: stage.map(str::to_owned),
        failing_connections: if b.has(Fault::Refuse) {
            0
        } else {
            b.flaky_count() + b.aaa_flaky_count()
        },
        note: note.map(str::to_owned),
    }
}

/// Where [`FleetSpec::write_inventory`] puts the expectations for `inventory`:
/// `devices.yaml` → `devices.expected.json`.
pub fn expected_path(inventory: &Path) -> PathBuf {
    inventory.with_extension("expected.json")
}

impl FleetSpec {
    /// What a client should see from every device.
    pub fn expected(&self) -> Expected {
        Expected {
            seed: self.seed,
            devices: self
                .devices
                .iter()
                .map(|d| (d.name.clone(), expected_outcome(d)))
                .collect(),
        }
    }

    /// Writes a netmiko-style `devices.yaml` for the fleet (a plain list; each entry with
    /// `name`, `device_type`, `host`, `port`, credentials, and a `simulate:` block for any
    /// non-default behaviour), and the expected outcomes beside it ([`expected_path`]).
    ///
    /// Every port must be known: write from a started fleet's [`crate::Fleet::spec`] when the
    /// spec asked for port 0.
    pub fn write_inventory(&self, path: &Path) -> Result<(), SimError> {
        if let Some(d) = self.devices.iter().find(|d| d.addr.port() == 0) {
            return Err(SimError::Invalid(format!(
                "device {} has no port yet (port 0): write the inventory of a started fleet \
                 (Fleet::spec) instead",
                d.name
            )));
        }
        let write = |path: &Path, text: String| {
            std::fs::write(path, text).map_err(|source| SimError::Write {
                path: path.to_owned(),
                source,
            })
        };
        write(path, self.inventory_yaml())?;
        let expected =
            serde_json::to_string_pretty(&self.expected()).expect("expectations serialize");
        write(&expected_path(path), expected + "\n")
    }

    fn inventory_yaml(&self) -> String {
        let mut out = format!(
            "# A simulated netsweep fleet: {} devices, seed {}.\n# Serve it with `netsweep-sim --inventory <this file> --seed {}`; the outcome\n# each device should give is in the .expected.json file beside this one.\n",
            self.devices.len(),
            self.seed,
            self.seed
        );
        for d in &self.devices {
            let _ = writeln!(out, "- name: {}", quote(&d.name));
            // netmiko's spelling of a telnet device type, which netsweep reads too.
            let telnet = if d.transport == Transport::Telnet {
                "_telnet"
            } else {
                ""
            };
            let _ = writeln!(out, "  device_type: {}{telnet}", d.platform);
            let _ = writeln!(out, "  host: {}", quote(&d.addr.ip().to_string()));
            let _ = writeln!(out, "  port: {}", d.addr.port());
            let _ = writeln!(out, "  username: {}", quote(&d.username));
            let _ = writeln!(out, "  password: {}", quote(&d.password));
            if d.platform.has_enable() {
                let _ = writeln!(out, "  secret: {}", quote(&d.secret));
            }
            out.push_str(&simulate_block(&d.behaviour));
        }
        out
    }
}

/// The `simulate:` block for whatever differs from a healthy default device.
fn simulate_block(b: &Behaviour) -> String {
    let default = Behaviour::default();
    let mut block = String::new();
    if !b.faults.is_empty() {
        let faults: Vec<String> = b.faults.iter().map(|f| quote(&f.to_string())).collect();
        let _ = writeln!(block, "    fault: [{}]", faults.join(", "));
    }
    for (key, value, default_value) in [
        ("latency", b.latency, default.latency),
        ("jitter", b.jitter, default.jitter),
        ("banner_delay", b.banner_delay, default.banner_delay),
    ] {
        if value != default_value {
            let _ = writeln!(block, "    {key}: {}", quote(&format_duration(value)));
        }
    }
    if b.running_config_bytes != default.running_config_bytes {
        let _ = writeln!(
            block,
            "    running_config_bytes: {}",
            b.running_config_bytes
        );
    }
    if b.privilege15 {
        block.push_str("    privilege15: true\n");
    }
    if block.is_empty() {
        block
    } else {
        format!("  simulate:\n{block}")
    }
}

/// A duration the way [`crate::parse_duration`] reads it back.
fn format_duration(d: Duration) -> String {
    if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        // Fractional milliseconds keep sub-millisecond precision (`1.5ms`).
        format!("{}ms", d.as_secs_f64() * 1000.0)
    }
}

/// A YAML double-quoted scalar (JSON string syntax is a subset of it).
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Reads a fleet from an inventory. See [`FleetSpec::from_inventory`].
fn from_inventory(
    path: &Path,
    seed: u64,
    platforms: &netsweep_platform::PlatformTable,
) -> Result<FleetSpec, SimError> {
    let inventory = netsweep_inventory::load(path, platforms)
        .map_err(|e| SimError::LoadInventory(Box::new(e)))?;
    let devices = inventory
        .devices
        .iter()
        .map(|entry| device_from_entry(entry, &inventory.platforms))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = FleetSpec { seed, devices };
    spec.validate()?;
    Ok(spec)
}

fn device_from_entry(
    entry: &netsweep_inventory::InventoryDevice,
    platforms: &netsweep_platform::PlatformTable,
) -> Result<DeviceSpec, SimError> {
    let target = &entry.target;
    let problem = |message: String| SimError::Inventory {
        location: entry.location.to_string(),
        device: target.name.clone(),
        message,
    };
    let ip: IpAddr = match target.host.as_str() {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        host => host.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| {
            problem(format!(
                "host {host:?} is not an IP address (the simulator serves loopback addresses only)"
            ))
        })?,
    };
    if !ip.is_loopback() {
        return Err(problem(format!(
            "host {ip} is not a loopback address (the simulator serves only 127.0.0.0/8 and ::1)"
        )));
    }
    // A user-defined platform is served as the built-in one it is based on.
    let served = platforms
        .builtin_root(&target.platform)
        .map_or(target.platform.as_str(), |p| p.name());
    let platform: Platform = served
        .parse()
        .map_err(|e: SimError| problem(e.to_string()))?;
    let mut device = DeviceSpec::new(target.name.clone(), platform);
    device.transport = target.transport;
    device.addr = SocketAddr::new(ip, target.port);
    device.hostname = prompt_safe(&target.name);
    device.username = target.username.clone();
    device.password = target
        .password
        .as_ref()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    device.secret = target
        .secret
        .as_ref()
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    // A client that logs in with `key_file` is let in with the public half beside it.
    if let Some(key_file) = &target.key_file {
        let mut public = key_file.clone().into_os_string();
        public.push(".pub");
        if let Ok(line) = std::fs::read_to_string(&public) {
            device.authorized_keys.push(line.trim().to_owned());
        }
    }
    if let Some(sim) = &entry.simulate {
        let b = &mut device.behaviour;
        for fault in &sim.fault {
            let fault: Fault = fault
                .parse()
                .map_err(|e: SimError| problem(e.to_string()))?;
            if !b.faults.contains(&fault) {
                b.faults.push(fault);
            }
        }
        let duration = |value: &Option<String>,
                        field: &str|
         -> Result<Option<Duration>, SimError> {
            value
                .as_deref()
                .map(|v| {
                    crate::parse_duration(v).map_err(|e| problem(format!("simulate.{field}: {e}")))
                })
                .transpose()
        };
        if let Some(d) = duration(&sim.latency, "latency")? {
            b.latency = d;
        }
        if let Some(d) = duration(&sim.jitter, "jitter")? {
            b.jitter = d;
        }
        if let Some(d) = duration(&sim.banner_delay, "banner_delay")? {
            b.banner_delay = d;
        }
        if let Some(bytes) = sim.running_config_bytes {
            b.running_config_bytes = usize::try_from(bytes).map_err(|_| {
                problem(format!(
                    "simulate.running_config_bytes: {bytes} is too large"
                ))
            })?;
        }
        if let Some(privilege15) = sim.privilege15 {
            b.privilege15 = privilege15;
        }
    }
    Ok(device)
}

/// A device name as an IOS hostname: `127.0.0.1:2222` would make a confusing prompt.
fn prompt_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

impl FleetSpec {
    /// Serves exactly an inventory's devices: their names, addresses (which must be loopback),
    /// platforms and credentials, with each entry's optional `simulate:` block (faults,
    /// latency, jitter, banner delay, running-config size, privilege 15). An entry with a
    /// `key_file` also accepts the public key in `<key_file>.pub`, if there is one.
    pub fn from_inventory(path: &Path, seed: u64) -> Result<FleetSpec, SimError> {
        from_inventory(path, seed, netsweep_platform::builtin())
    }

    /// [`FleetSpec::from_inventory`] for an inventory whose devices may use platforms defined
    /// outside it (`--platforms`): `platforms` is the table it is read with. A user-defined
    /// platform is served as the built-in platform it is based on; `autodetect` devices are
    /// refused (the simulator must know what to pretend to be).
    pub fn from_inventory_with(
        path: &Path,
        seed: u64,
        platforms: &netsweep_platform::PlatformTable,
    ) -> Result<FleetSpec, SimError> {
        from_inventory(path, seed, platforms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::GenerateOptions;

    #[test]
    fn expectations_follow_the_first_fault_a_client_meets() {
        let mut d = DeviceSpec::new("r1", Platform::CiscoIos);
        assert_eq!(expected_outcome(&d).outcome, "ok");
        d.behaviour.faults = vec![Fault::DropMidOutput, Fault::Auth];
        assert_eq!(expected_outcome(&d).outcome, "auth_failed");
        d.behaviour.faults = vec![Fault::Flaky(2), Fault::HangAfterAuth];
        let e = expected_outcome(&d);
        assert_eq!(
            (
                e.outcome.as_str(),
                e.stage.as_deref(),
                e.failing_connections
            ),
            ("timed_out", Some("prompt"), 2)
        );
    }

    #[test]
    fn a_linux_host_over_telnet_is_a_shell_so_a_silent_one_times_out_at_the_prompt() {
        let mut d = DeviceSpec::new("srv1", Platform::Linux);
        d.behaviour.faults = vec![Fault::HangAfterAuth];
        assert_eq!(expected_outcome(&d).stage.as_deref(), Some("command"));
        d.transport = Transport::Telnet;
        let e = expected_outcome(&d);
        assert_eq!(
            (e.stage.as_deref(), e.transport),
            (Some("prompt"), Transport::Telnet)
        );
    }

    #[test]
    fn inventory_lists_every_device_with_its_faults() {
        let mut spec = FleetSpec::generate(&GenerateOptions {
            count: 3,
            base_port: 30001,
            ..Default::default()
        })
        .unwrap();
        spec.devices[1].behaviour.faults = vec![Fault::Flaky(3)];
        spec.devices[1].behaviour.latency = Duration::from_millis(200);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devices.yaml");
        spec.write_inventory(&path).unwrap();
        let yaml = std::fs::read_to_string(&path).unwrap();
        assert!(yaml.contains("- name: \"sim0002\"\n"), "{yaml}");
        assert!(yaml.contains("  port: 30002\n"), "{yaml}");
        assert!(
            yaml.contains("  simulate:\n    fault: [\"flaky:3\"]\n    latency: \"200ms\"\n"),
            "{yaml}"
        );
        let expected: Expected =
            serde_json::from_str(&std::fs::read_to_string(expected_path(&path)).unwrap()).unwrap();
        assert_eq!(expected.devices["sim0002"].failing_connections, 3);
        assert_eq!(expected.devices.len(), 3);
    }

    #[test]
    fn a_written_inventory_reads_back_as_the_same_fleet() {
        let mut spec = FleetSpec::generate(&GenerateOptions {
            count: 4,
            platforms: vec![Platform::CiscoIos, Platform::Linux],
            base_port: 30101,
            seed: 9,
            ..Default::default()
        })
        .unwrap();
        spec.devices[0].behaviour.faults = vec![Fault::HangMidOutput, Fault::Flaky(2)];
        spec.devices[1].behaviour.jitter = Duration::from_millis(50);
        spec.devices[2].behaviour.privilege15 = true;
        spec.devices[2].behaviour.running_config_bytes = 2 * 1024 * 1024;
        spec.devices[3].behaviour.banner_delay = Duration::from_micros(1500);
        spec.devices[2].transport = Transport::Telnet;
        spec.devices[3].transport = Transport::Telnet;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devices.yaml");
        spec.write_inventory(&path).unwrap();
        let back = FleetSpec::from_inventory(&path, 9).unwrap();
        // Linux entries carry no enable secret.
        for d in spec
            .devices
            .iter_mut()
            .filter(|d| d.platform == Platform::Linux)
        {
            d.secret = String::new();
        }
        assert_eq!(back, spec);
    }

    #[test]
    fn inventory_problems_name_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devices.yaml");
        let entry = |host: &str, extra: &str| {
            format!(
                "- name: r1\n  device_type: cisco_ios\n  host: {host}\n  username: u\n  password: p\n{extra}"
            )
        };
        let load = |text: String| {
            std::fs::write(&path, text).unwrap();
            FleetSpec::from_inventory(&path, 1).unwrap_err().to_string()
        };
        let err = load(entry("10.0.0.1", ""));
        assert!(err.ends_with("devices.yaml:1:3: device r1: host 10.0.0.1 is not a loopback address (the simulator serves only 127.0.0.0/8 and ::1)"), "{err}");
        let err = load(entry("127.0.0.1", "  simulate:\n    fault: [hang]\n"));
        assert!(err.contains("device r1: unknown fault \"hang\""), "{err}");
        let err = load(entry("127.0.0.1", "  simulate:\n    latency: fast\n"));
        assert!(
            err.contains("simulate.latency: bad duration \"fast\""),
            "{err}"
        );
        let missing = FleetSpec::from_inventory(&dir.path().join("none.yaml"), 1).unwrap_err();
        assert_eq!(missing.to_string(), "cannot load the inventory");
    }
}
