//! What a simulated fleet is made of: platforms, faults, behaviours, devices, and the parsers
//! for the strings that name them on the command line and in inventories.
//!
//! Everything here is plain data and validation; nothing binds a socket. The parsers
//! ([`parse_duration`], [`parse_amount`], [`Fault::from_str`], [`Platform::from_str`]) are the
//! only ones the crate uses, for flags and `simulate:` blocks alike, so both accept exactly the
//! same spellings.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;

use crate::SimError;

/// How a simulated device is reached: SSH (the default) or telnet.
pub use netsweep_protocol::Transport;

/// The kind of device a simulated device pretends to be: a platform of netsweep's platform
/// table (netsweep-platform) that has a simulator model (`crates/sim/models/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Platform(&'static str);

// Spelled as the enum this type replaced, so fleets built in code read unchanged.
#[allow(non_upper_case_globals)]
impl Platform {
    /// Cisco IOS / IOS XE: interactive shell, prompts, `enable`, paging.
    pub const CiscoIos: Platform = Platform("cisco_ios");
    /// A Linux server: exec channels with exit status, public-key auth, a `$ ` shell.
    pub const Linux: Platform = Platform("linux");

    /// The canonical netmiko `device_type`.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Every simulated platform, in model order.
    pub fn all() -> impl Iterator<Item = Platform> {
        crate::model::models().iter().map(|m| Platform(m.platform))
    }

    /// The platform's simulator model.
    pub(crate) fn model(self) -> &'static crate::model::Model {
        crate::model::model(self.0).expect("a Platform always has a model")
    }

    /// Whether the platform has privileged mode behind `enable` (the `enable-fail` fault
    /// applies).
    pub fn has_enable(self) -> bool {
        self.model().has_enable()
    }

    /// Whether the platform is driven through an interactive CLI (a prompt stage), rather
    /// than exec channels.
    pub fn is_cli(self) -> bool {
        self.model().kind == crate::model::Kind::Cli
    }
}

/// Every `device_type` spelling the simulator serves, for messages.
pub(crate) fn supported_platforms() -> String {
    let table = netsweep_platform::builtin();
    let mut names: Vec<&str> = table
        .device_type_names()
        .into_iter()
        .filter(|n| {
            table
                .resolve(n)
                .is_some_and(|t| crate::model::model(t.platform.name()).is_some())
        })
        .collect();
    names.sort_unstable();
    names.join(", ")
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = SimError;

    /// A canonical name or alias of the platform table (`cisco_xe`, `juniper`,
    /// `huawei_vrp`…).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        netsweep_platform::builtin()
            .resolve(name)
            .and_then(|t| crate::model::model(t.platform.name()))
            .map(|m| Platform(m.platform))
            .ok_or_else(|| SimError::UnknownPlatform(name.to_owned()))
    }
}

/// A way a simulated device misbehaves on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Nothing listens on the address: connections are refused.
    Refuse,
    /// TCP is accepted but the SSH banner never comes.
    HangBanner,
    /// Authentication succeeds, then the shell never prompts (an exec never answers).
    HangAfterAuth,
    /// A command's output stops half way and the device goes silent.
    HangMidOutput,
    /// The TCP connection is closed half way through a command's output.
    DropMidOutput,
    /// Every password (and key) is rejected.
    Auth,
    /// `enable` is always refused with `% Access denied`.
    EnableFail,
    /// The first N connections are dropped right after the TCP accept; later ones work.
    Flaky(u32),
    /// The first N logins with the right credentials fail as on a device whose TACACS+
    /// server timed out: a password login has the connection closed, a keyboard-interactive
    /// one is shown `% Error in authentication.` with the password prompt again, then
    /// refused. Later logins work.
    AaaFlaky(u32),
    /// Only diffie-hellman-group14-sha1, ssh-rsa, aes128-ctr and hmac-sha1, like old IOS images.
    Legacy,
    /// A new random host key on every connection.
    HostkeyChange,
    /// The shell prints noise and never a prompt.
    Garbage,
}

/// The fault names, one list for [`Fault::NAMES`], `Display` and `FromStr`: the `Display`
/// `match` it makes is exhaustive, so a new fault without a name does not compile. The faults
/// with a count (`flaky:N`, `aaa-flaky:N`) are named last; alone, a name means a count of 1.
macro_rules! fault_names {
    ($($fault:ident => $name:literal),*; $($param:ident(N) => $param_name:literal),+) => {
        impl Fault {
            /// Every fault name, for error messages and `--help`.
            pub const NAMES: [&'static str; [$($name,)* $($param_name),+].len()] =
                [$($name,)* $(concat!($param_name, ":N")),+];

            /// The fault spelled `name`, for the faults without a parameter.
            fn without_parameter(name: &str) -> Option<Fault> {
                match name {
                    $($name => Some(Fault::$fault),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for Fault {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Fault::$fault => f.write_str($name),)*
                    $(Fault::$param(n) => write!(f, concat!($param_name, ":{}"), n),)+
                }
            }
        }

        impl FromStr for Fault {
            type Err = SimError;

            /// A name from [`Fault::NAMES`]; `flaky` alone means `flaky:1`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                let unknown = || SimError::UnknownFault(s.to_owned());
                if let Some(fault) = Fault::without_parameter(s) {
                    return Ok(fault);
                }
                $(
                    if s == $param_name {
                        return Ok(Fault::$param(1));
                    }
                    if let Some(n) = s.strip_prefix(concat!($param_name, ":")) {
                        return Ok(Fault::$param(n.parse().map_err(|_| unknown())?));
                    }
                )+
                Err(unknown())
            }
        }
    };
}

fault_names! {
    Refuse => "refuse",
    HangBanner => "hang-banner",
    HangAfterAuth => "hang-after-auth",
    HangMidOutput => "hang-mid-output",
    DropMidOutput => "drop-mid-output",
    Auth => "auth",
    EnableFail => "enable-fail",
    Legacy => "legacy",
    HostkeyChange => "hostkey-change",
    Garbage => "garbage";
    Flaky(N) => "flaky",
    AaaFlaky(N) => "aaa-flaky"
}

impl Fault {
    /// Whether the fault means anything over telnet (`legacy` and `hostkey-change` are about
    /// SSH's algorithms and host keys).
    pub fn over_telnet(self) -> bool {
        !matches!(self, Fault::Legacy | Fault::HostkeyChange)
    }
}

/// How one device behaves: timing, output size, login level and faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// Wait after the TCP accept before sending the SSH banner.
    pub banner_delay: Duration,
    /// Added before each command's output (`show …`, exec commands); prompts and mode changes
    /// answer at once, so a sweep of one command costs about one `latency` per device.
    pub latency: Duration,
    /// The latency varies uniformly by up to ± this much (deterministically for the seed).
    pub jitter: Duration,
    /// Send command output at this rate instead of all at once.
    pub trickle_bytes_per_sec: Option<u64>,
    /// Size of `show running-config` (and of the Linux `cat /var/log/syslog`).
    pub running_config_bytes: usize,
    /// Login lands straight in privileged mode (`#`), as with a privilege-15 account.
    pub privilege15: bool,
    /// Faults, in any order.
    pub faults: Vec<Fault>,
    /// Network round-trip time to the device: every byte it receives and sends is delayed by
    /// half of it (`--rtt`; zero: none).
    pub rtt: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            banner_delay: Duration::ZERO,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            trickle_bytes_per_sec: None,
            running_config_bytes: 4 * 1024,
            privilege15: false,
            faults: Vec::new(),
            rtt: Duration::ZERO,
        }
    }
}

impl Behaviour {
    /// True if `fault` is among the faults (for `flaky`, any count).
    pub fn has(&self, fault: Fault) -> bool {
        self.faults.iter().any(|f| match (f, fault) {
            (Fault::Flaky(_), Fault::Flaky(_)) | (Fault::AaaFlaky(_), Fault::AaaFlaky(_)) => true,
            (a, b) => *a == b,
        })
    }

    /// How many logins an `aaa-flaky:N` fault fails (0 without one).
    pub fn aaa_flaky_count(&self) -> u32 {
        self.faults
            .iter()
            .filter_map(|f| match f {
                Fault::AaaFlaky(n) => Some(*n),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// How many connections a `flaky:N` fault drops (0 without one).
    pub fn flaky_count(&self) -> u32 {
        self.faults
            .iter()
            .filter_map(|f| match f {
                Fault::Flaky(n) => Some(*n),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

/// One simulated device. `Debug` leaves the password and secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Unique name (the inventory's `name`).
    pub name: String,
    /// Loopback address to listen on; port 0 picks any free port.
    pub addr: SocketAddr,
    /// What it pretends to be.
    pub platform: Platform,
    /// SSH or telnet.
    pub transport: Transport,
    /// The hostname shown in prompts and outputs.
    pub hostname: String,
    /// The only user that may log in.
    pub username: String,
    /// That user's password (also the keyboard-interactive answer).
    pub password: String,
    /// The enable secret (IOS).
    pub secret: String,
    /// OpenSSH public key lines accepted for public-key authentication (Linux).
    pub authorized_keys: Vec<String>,
    /// Timing and faults.
    pub behaviour: Behaviour,
}

impl fmt::Debug for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSpec")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("platform", &self.platform)
            .field("transport", &self.transport)
            .field("hostname", &self.hostname)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("secret", &"<redacted>")
            .field("authorized_keys", &self.authorized_keys.len())
            .field("behaviour", &self.behaviour)
            .finish()
    }
}

impl DeviceSpec {
    /// A healthy device with the simulator's default credentials, on any free port of
    /// 127.0.0.1.
    pub fn new(name: impl Into<String>, platform: Platform) -> DeviceSpec {
        let name = name.into();
        DeviceSpec {
            hostname: name.clone(),
            name,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            platform,
            transport: Transport::Ssh,
            username: DEFAULT_USERNAME.to_owned(),
            password: DEFAULT_PASSWORD.to_owned(),
            secret: DEFAULT_SECRET.to_owned(),
            authorized_keys: Vec::new(),
            behaviour: Behaviour::default(),
        }
    }
}

/// Login user of generated devices.
pub const DEFAULT_USERNAME: &str = "netsweep";
/// Password of generated devices.
pub const DEFAULT_PASSWORD: &str = "netsweep-password";
/// Enable secret of generated devices.
pub const DEFAULT_SECRET: &str = "netsweep-secret";

/// A whole fleet. The seed makes host keys, jitter and fault placement reproducible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetSpec {
    /// Seed for everything random.
    pub seed: u64,
    /// The devices, in inventory order.
    pub devices: Vec<DeviceSpec>,
}

/// How many devices a generated fault goes to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Amount {
    /// A percentage of the fleet, rounded up (1% of 10 devices is 1 device).
    Percent(f64),
    /// Exactly this many devices.
    Count(usize),
    /// Every device.
    All,
}

/// One `--faults` item: a fault and how many devices get it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultShare {
    /// The fault.
    pub fault: Fault,
    /// How many devices.
    pub amount: Amount,
}

/// How generated devices are spread over addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Spread {
    /// One address, consecutive ports (`127.0.0.1:20001`, `:20002`, …; port 0: any free ports).
    #[default]
    Ports,
    /// Consecutive addresses, one port (`127.0.1.1:2222`, `127.0.1.2:2222`, …).
    Addrs,
}

/// Options for [`FleetSpec::generate`] (the `netsweep-sim` flags).
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Number of devices.
    pub count: usize,
    /// Platforms, assigned round-robin.
    pub platforms: Vec<Platform>,
    /// How every device is reached.
    pub transport: Transport,
    /// Per-command latency.
    pub latency: Duration,
    /// Latency jitter.
    pub jitter: Duration,
    /// Delay before the SSH banner.
    pub banner_delay: Duration,
    /// Output trickle rate.
    pub trickle_bytes_per_sec: Option<u64>,
    /// `show running-config` size.
    pub running_config_bytes: usize,
    /// Privilege-15 logins.
    pub privilege15: bool,
    /// Fault placement.
    pub faults: Vec<FaultShare>,
    /// Seed.
    pub seed: u64,
    /// First address.
    pub base_addr: IpAddr,
    /// First port (0: any free port).
    pub base_port: u16,
    /// Addresses or ports.
    pub spread: Spread,
    /// Device name prefix; names are the prefix and a zero-padded number.
    pub name_prefix: String,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            count: 10,
            platforms: vec![Platform::CiscoIos],
            transport: Transport::Ssh,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            banner_delay: Duration::ZERO,
            trickle_bytes_per_sec: None,
            running_config_bytes: Behaviour::default().running_config_bytes,
            privilege15: false,
            faults: Vec::new(),
            seed: 0,
            base_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 0,
            spread: Spread::Ports,
            name_prefix: "sim".to_owned(),
        }
    }
}

/// The most devices one fleet may hold (addresses and ports are finite, and so is memory).
pub const MAX_DEVICES: usize = 100_000;

impl FleetSpec {
    /// Builds a fleet from generator options, placing faults deterministically for the seed.
    pub fn generate(opts: &GenerateOptions) -> Result<FleetSpec, SimError> {
        if opts.count == 0 || opts.count > MAX_DEVICES {
            return Err(SimError::BadCount {
                count: opts.count,
                max: MAX_DEVICES,
            });
        }
        if opts.platforms.is_empty() {
            return Err(SimError::Invalid("no platform given".into()));
        }
        ensure_loopback("--base-addr", opts.base_addr)?;
        let width = opts.count.to_string().len().max(4);
        let mut devices = Vec::with_capacity(opts.count);
        for i in 0..opts.count {
            let name = format!("{}{:0width$}", opts.name_prefix, i + 1);
            let platform = opts.platforms[i % opts.platforms.len()];
            let mut device = DeviceSpec::new(name, platform);
            device.transport = opts.transport;
            device.addr = nth_addr(opts, i)?;
            device.behaviour = Behaviour {
                banner_delay: opts.banner_delay,
                latency: opts.latency,
                jitter: opts.jitter,
                trickle_bytes_per_sec: opts.trickle_bytes_per_sec,
                running_config_bytes: opts.running_config_bytes,
                privilege15: opts.privilege15,
                faults: Vec::new(),
                rtt: Duration::ZERO,
            };
            devices.push(device);
        }
        place_faults(&mut devices, &opts.faults, opts.seed)?;
        let spec = FleetSpec {
            seed: opts.seed,
            devices,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks what [`crate::Fleet::start`] relies on: unique names, loopback addresses, no
    /// address used twice, faults that fit the platform.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.devices.is_empty() {
            return Err(SimError::Invalid("the fleet has no devices".into()));
        }
        let mut names = HashSet::new();
        let mut addrs = HashSet::new();
        for d in &self.devices {
            if d.name.is_empty() {
                return Err(SimError::Invalid("a device has an empty name".into()));
            }
            if !names.insert(d.name.as_str()) {
                return Err(SimError::Invalid(format!(
                    "device name {:?} is used twice",
                    d.name
                )));
            }
            ensure_loopback(&format!("device {}", d.name), d.addr.ip())?;
            if d.addr.port() != 0 && !addrs.insert(d.addr) {
                return Err(SimError::Invalid(format!(
                    "device {}: address {} is used by another device",
                    d.name, d.addr
                )));
            }
            if d.behaviour.has(Fault::Legacy) && d.behaviour.has(Fault::HostkeyChange) {
                // A fresh RSA key per connection would cost a second of CPU each.
                return Err(SimError::Invalid(format!(
                    "device {}: faults legacy and hostkey-change cannot be combined",
                    d.name
                )));
            }
            if d.transport == Transport::Telnet
                && let Some(fault) = d.behaviour.faults.iter().find(|f| !f.over_telnet())
            {
                return Err(SimError::Invalid(format!(
                    "device {}: fault {fault} applies to SSH only, and the device is served over \
                     telnet",
                    d.name
                )));
            }
            if !d.platform.has_enable() && d.behaviour.has(Fault::EnableFail) {
                let with: Vec<&str> = Platform::all()
                    .filter(|p| p.has_enable())
                    .map(Platform::as_str)
                    .collect();
                return Err(SimError::Invalid(format!(
                    "device {}: fault enable-fail applies to platforms with enable only ({})",
                    d.name,
                    with.join(", ")
                )));
            }
            if d.username.is_empty() {
                return Err(SimError::Invalid(format!(
                    "device {}: empty username",
                    d.name
                )));
            }
            for line in &d.authorized_keys {
                crate::keys::parse_authorized_key(line).map_err(|e| {
                    SimError::Invalid(format!("device {}: bad authorized key: {e}", d.name))
                })?;
            }
        }
        Ok(())
    }
}

/// Refuses anything but 127.0.0.0/8 and ::1: the simulator must never be reachable from
/// outside the machine.
pub fn ensure_loopback(what: &str, ip: IpAddr) -> Result<(), SimError> {
    if ip.is_loopback() {
        Ok(())
    } else {
        Err(SimError::NotLoopback {
            what: what.to_owned(),
            ip,
        })
    }
}

fn nth_addr(opts: &GenerateOptions, i: usize) -> Result<SocketAddr, SimError> {
    let offset = u32::try_from(i).expect("count is bounded by MAX_DEVICES");
    match opts.spread {
        Spread::Ports => {
            if opts.base_port == 0 {
                return Ok(SocketAddr::new(opts.base_addr, 0));
            }
            let port = u32::from(opts.base_port) + offset;
            let port = u16::try_from(port).map_err(|_| {
                SimError::Invalid(format!(
                    "{} devices from port {} run past port 65535",
                    opts.count, opts.base_port
                ))
            })?;
            Ok(SocketAddr::new(opts.base_addr, port))
        }
        Spread::Addrs => {
            let ip = match opts.base_addr {
                IpAddr::V4(v4) => {
                    let next = u32::from(v4).checked_add(offset).map(Ipv4Addr::from);
                    match next {
                        Some(ip) if ip.is_loopback() => IpAddr::V4(ip),
                        _ => {
                            return Err(SimError::Invalid(format!(
                                "{} devices from {} run out of 127.0.0.0/8",
                                opts.count, opts.base_addr
                            )));
                        }
                    }
                }
                IpAddr::V6(_) => {
                    if i > 0 {
                        return Err(SimError::Invalid(
                            "::1 is the only IPv6 loopback address: spread over ports instead"
                                .into(),
                        ));
                    }
                    opts.base_addr
                }
            };
            Ok(SocketAddr::new(ip, opts.base_port))
        }
    }
}

/// Gives each share of faults to its own devices, chosen by a shuffle seeded with `seed`.
fn place_faults(
    devices: &mut [DeviceSpec],
    shares: &[FaultShare],
    seed: u64,
) -> Result<(), SimError> {
    let n = devices.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha20Rng::seed_from_u64(seed ^ 0x6661_756c_7473));
    let mut taken = vec![false; n];
    // `enable-fail` means nothing to a platform without enable: it only goes to the others;
    // SSH's own faults only go to SSH devices.
    let fits = |fault: Fault, d: &DeviceSpec| {
        (fault != Fault::EnableFail || d.platform.has_enable())
            && (d.transport == Transport::Ssh || fault.over_telnet())
    };
    for share in shares {
        let eligible = || (0..n).filter(|&i| fits(share.fault, &devices[i]));
        let targets: Vec<usize> = match share.amount {
            Amount::All => eligible().collect(),
            amount => {
                let k = match amount {
                    Amount::Count(k) => k,
                    Amount::Percent(p) => (p / 100.0 * eligible().count() as f64).ceil() as usize,
                    Amount::All => unreachable!("handled above"),
                };
                let chosen: Vec<usize> = order
                    .iter()
                    .copied()
                    .filter(|&i| !taken[i] && fits(share.fault, &devices[i]))
                    .take(k)
                    .collect();
                if chosen.len() < k {
                    return Err(SimError::Invalid(format!(
                        "not enough devices for {} of fault {}: the fault shares add up to more \
                         than the fleet",
                        k, share.fault
                    )));
                }
                chosen
            }
        };
        for i in targets {
            taken[i] = true;
            if !devices[i].behaviour.faults.contains(&share.fault) {
                devices[i].behaviour.faults.push(share.fault);
            }
        }
    }
    Ok(())
}

/// Parses a duration as inventories write them (`200ms`, `1.5s`, `1m30s`, `0`), except that a
/// bare number other than 0 is refused: `--latency 200` is too easy to misread.
pub fn parse_duration(s: &str) -> Result<Duration, SimError> {
    let bad = || SimError::BadDuration(s.to_owned());
    let t = s.trim();
    if t != "0" && t.parse::<f64>().is_ok() {
        return Err(bad());
    }
    netsweep_inventory::parse_duration(t).map_err(|_| bad())
}

/// Parses how many devices get a fault: `2%` / `0.5%` (of the fleet) or `3` (devices).
pub fn parse_amount(s: &str) -> Result<Amount, SimError> {
    let t = s.trim();
    let bad = || SimError::BadAmount(s.to_owned());
    if let Some(p) = t.strip_suffix('%') {
        let p: f64 = p.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&p) {
            return Err(bad());
        }
        Ok(Amount::Percent(p))
    } else {
        t.parse().map(Amount::Count).map_err(|_| bad())
    }
}

/// Parses a `--faults` list: `hang-banner=1%,auth=3,flaky:2=5%,legacy` (no amount: every
/// device).
pub fn parse_fault_shares(s: &str) -> Result<Vec<FaultShare>, SimError> {
    s.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (fault, amount) = match item.split_once('=') {
                Some((f, a)) => (f, parse_amount(a)?),
                None => (item, Amount::All),
            };
            Ok(FaultShare {
                fault: fault.parse()?,
                amount,
            })
        })
        .collect()
}

/// Parses a byte size: `4096`, `64k`, `2M` (binary multiples).
pub fn parse_size(s: &str) -> Result<usize, SimError> {
    let t = s.trim();
    let bad = || SimError::BadSize(s.to_owned());
    let (number, multiplier) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1024),
        Some((i, 'm' | 'M')) => (&t[..i], 1024 * 1024),
        Some((i, 'g' | 'G')) => (&t[..i], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    let n: usize = number.trim().parse().map_err(|_| bad())?;
    n.checked_mul(multiplier).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_round_trip_through_their_names() {
        for listed in Fault::NAMES {
            let name = listed.replace(":N", ":3");
            let fault: Fault = name.parse().unwrap();
            assert_eq!(fault.to_string(), name);
        }
        assert_eq!("flaky".parse::<Fault>().unwrap(), Fault::Flaky(1));
        assert!("flaky:N".parse::<Fault>().is_err());
        assert!(matches!(
            "hang".parse::<Fault>(),
            Err(SimError::UnknownFault(_))
        ));
        assert!("flaky:x".parse::<Fault>().is_err());
        assert!("aaa-flaky:x".parse::<Fault>().is_err());
        assert_eq!("aaa-flaky".parse::<Fault>().unwrap(), Fault::AaaFlaky(1));
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        for bad in ["200", "fast", "-1s", "ms", "1x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_are_percentages_or_counts() {
        assert_eq!(parse_amount("2%").unwrap(), Amount::Percent(2.0));
        assert_eq!(parse_amount("3").unwrap(), Amount::Count(3));
        for bad in ["101%", "-1%", "x%", "1.5"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("64k").unwrap(), 65536);
        assert_eq!(parse_size("2M").unwrap(), 2 * 1024 * 1024);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn generated_faults_are_placed_once_each_and_reproducibly() {
        let opts = GenerateOptions {
            count: 200,
            faults: parse_fault_shares("hang-banner=1%,auth=2%,flaky:2=3").unwrap(),
            seed: 42,
            ..Default::default()
        };
        let a = FleetSpec::generate(&opts).unwrap();
        let b = FleetSpec::generate(&opts).unwrap();
        assert_eq!(a, b);
        let with = |f: Fault| {
            a.devices
                .iter()
                .filter(|d| d.behaviour.faults.contains(&f))
                .count()
        };
        assert_eq!(with(Fault::HangBanner), 2);
        assert_eq!(with(Fault::Auth), 4);
        assert_eq!(with(Fault::Flaky(2)), 3);
        assert!(a.devices.iter().all(|d| d.behaviour.faults.len() <= 1));
        let c = FleetSpec::generate(&GenerateOptions { seed: 7, ..opts }).unwrap();
        assert_ne!(a, c, "another seed places faults elsewhere");
        let mixed = FleetSpec::generate(&GenerateOptions {
            count: 10,
            platforms: vec![Platform::CiscoIos, Platform::Linux],
            faults: parse_fault_shares("enable-fail=100%").unwrap(),
            ..Default::default()
        })
        .unwrap();
        for d in &mixed.devices {
            assert_eq!(
                d.behaviour.has(Fault::EnableFail),
                d.platform == Platform::CiscoIos
            );
        }
    }

    #[test]
    fn ssh_only_faults_are_refused_for_telnet_devices_and_never_placed_on_them() {
        let telnet = GenerateOptions {
            count: 10,
            transport: Transport::Telnet,
            ..Default::default()
        };
        let spec = FleetSpec::generate(&GenerateOptions {
            faults: parse_fault_shares("auth=20%,hang-banner=1").unwrap(),
            ..telnet.clone()
        })
        .unwrap();
        assert!(
            spec.devices
                .iter()
                .all(|d| d.transport == Transport::Telnet)
        );
        for fault in ["legacy=1", "hostkey-change=2"] {
            let refused = FleetSpec::generate(&GenerateOptions {
                faults: parse_fault_shares(fault).unwrap(),
                ..telnet.clone()
            });
            assert!(refused.is_err(), "{fault}");
        }
        // "Every device" means every device it fits: none, over telnet.
        let none = FleetSpec::generate(&GenerateOptions {
            faults: parse_fault_shares("legacy").unwrap(),
            ..telnet.clone()
        })
        .unwrap();
        assert!(none.devices.iter().all(|d| d.behaviour.faults.is_empty()));
        let mut bad = spec;
        bad.devices[0].behaviour.faults = vec![Fault::HostkeyChange];
        let message = bad.validate().unwrap_err().to_string();
        assert!(
            message.contains("fault hostkey-change applies to SSH only"),
            "{message}"
        );
    }

    #[test]
    fn generated_addresses_spread_over_ports_or_addresses() {
        let ports = FleetSpec::generate(&GenerateOptions {
            count: 3,
            base_port: 20001,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ports.devices[2].addr, "127.0.0.1:20003".parse().unwrap());
        let addrs = FleetSpec::generate(&GenerateOptions {
            count: 3,
            base_addr: "127.0.1.1".parse().unwrap(),
            base_port: 2222,
            spread: Spread::Addrs,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(addrs.devices[2].addr, "127.0.1.3:2222".parse().unwrap());
        assert_eq!(addrs.devices[0].name, "sim0001");
    }

    #[test]
    fn bad_definitions_are_refused() {
        let not_loopback = FleetSpec::generate(&GenerateOptions {
            base_addr: "10.0.0.1".parse().unwrap(),
            ..Default::default()
        });
        assert!(matches!(not_loopback, Err(SimError::NotLoopback { .. })));
        let too_many = FleetSpec::generate(&GenerateOptions {
            count: 10,
            faults: parse_fault_shares("auth=60%,garbage=50%").unwrap(),
            ..Default::default()
        });
        assert!(too_many.is_err());
        assert!(
            FleetSpec::generate(&GenerateOptions {
                count: 0,
                ..Default::default()
            })
            .is_err()
        );
        let mut dup = FleetSpec::generate(&GenerateOptions {
            count: 2,
            ..Default::default()
        })
        .unwrap();
        dup.devices[1].name = dup.devices[0].name.clone();
        assert!(dup.validate().unwrap_err().to_string().contains("twice"));
    }
}
