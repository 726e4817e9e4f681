//! A simulated fleet of network devices (every platform of netsweep's platform table:
//! IOS, NX-OS, IOS XR, EOS, Junos, VRP, Comware, RouterOS, ASA) and Linux hosts on loopback,
//! served over SSH or telnet, with latency and faults, for tests, benchmarks and rehearsals.
//!
//! Each platform is a model ([`model`], `models/*.yaml`): its ident, logins, modes, prompts,
//! paging, error texts and command outputs as data, run by one CLI engine
//! ([`device_cli`]).
//!
//! [`FleetSpec`] says what to serve (generated from flags, or read from an inventory);
//! [`Fleet::start`] serves it from one process, each device on its own loopback address or
//! port, and counts what each device sees ([`Counters`]). Host keys are derived from the seed
//! and the device name, so a client's known_hosts keeps matching across restarts.
//!
//! This crate must not bind anything but loopback (127.0.0.0/8, ::1), and must not leak tokio:
//! the public API is blocking, and the fleet runs its own runtime on background threads.
//! It never prints; the `netsweep-sim` binary's [`cli`] is the one place that does.

pub mod cli;
mod config_state;
mod device_cli;
mod facts;
mod fleet;
mod inventory;
mod keys;
mod linux;
mod model;
mod session;
mod session_log;
mod spec;
mod telnet;
mod template;
mod wan;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

pub use fleet::{Counters, Fleet};
pub use inventory::{Expected, ExpectedDevice, expected_outcome, expected_path};
pub use session_log::SessionSpan;
pub use spec::{
    Amount, Behaviour, DEFAULT_PASSWORD, DEFAULT_SECRET, DEFAULT_USERNAME, DeviceSpec, Fault,
    FaultShare, FleetSpec, GenerateOptions, MAX_DEVICES, Platform, Spread, Transport,
    ensure_loopback, parse_amount, parse_duration, parse_fault_shares, parse_size,
};

/// Why a fleet could not be defined, started or written.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A platform name the simulator does not know.
    #[error("unknown platform {0:?} (supported: {list})", list = spec::supported_platforms())]
    UnknownPlatform(String),
    /// A fault name the simulator does not know.
    #[error("unknown fault {0:?} (supported: {list})", list = Fault::NAMES.join(", "))]
    UnknownFault(String),
    /// Not a duration.
    #[error("bad duration {0:?} (expected a number and a unit, e.g. 200ms, 1.5s, 2m)")]
    BadDuration(String),
    /// Not a percentage or count.
    #[error("bad amount {0:?} (expected a percentage from 0% to 100%, or a device count)")]
    BadAmount(String),
    /// Not a byte size.
    #[error("bad size {0:?} (expected bytes, e.g. 4096, 64k, 2M)")]
    BadSize(String),
    /// Too few or too many devices.
    #[error("bad device count {count} (expected 1 to {max})")]
    BadCount {
        /// Asked for.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An address outside loopback.
    #[error(
        "{what}: {ip} is not a loopback address (the simulator serves only 127.0.0.0/8 and ::1)"
    )]
    NotLoopback {
        /// Which setting or device.
        what: String,
        /// The address.
        ip: IpAddr,
    },
    /// Any other inconsistency in a fleet definition.
    #[error("{0}")]
    Invalid(String),
    /// A listener could not be bound.
    #[error("device {device}: cannot listen on {addr}")]
    Bind {
        /// The device.
        device: String,
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The runtime could not start.
    #[error("cannot start the simulator's runtime")]
    Runtime(#[source] std::io::Error),
    /// An inventory could not be loaded (unreadable, or invalid as an inventory).
    #[error("cannot load the inventory")]
    LoadInventory(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An inventory entry cannot be simulated (e.g. its host is not loopback).
    #[error("{location}: device {device}: {message}")]
    Inventory {
        /// `file:line:column` of the entry.
        location: String,
        /// The device.
        device: String,
        /// What is wrong.
        message: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A stable 64-bit hash of (seed, label): every per-device random choice starts here, so the
/// same seed gives the same fleet on every run and machine.
pub(crate) fn hash_label(seed: u64, label: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(seed.to_be_bytes())
        .chain_update(label.as_bytes())
        .finalize();
    u64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
}

/// Raises the soft open-file limit to the hard limit (thousands of listeners need thousands of
/// descriptors) and returns the new soft limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(std::io::Error::from)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(std::io::Error::from)?;
    }
    Ok(hard.max(soft))
}
