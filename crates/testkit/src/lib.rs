//! Test support shared by every crate's tests and the integration tests: polling with
//! deadlines, temp dirs, unique loopback addresses, an OpenSSH `sshd` and a BusyBox `telnetd`
//! on loopback.
//!
//! Only ever a dev-dependency. Everything here binds loopback only and cleans up after itself
//! (an [`Sshd`] is killed when dropped). Helpers panic with a clear message where a test could
//! not go on anyway; [`Sshd::start`] returns a typed error so callers can add context.

mod sshd;
mod telnetd;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

pub use sshd::{Sshd, SshdError, SshdOptions, keygen_with_passphrase, sign_user_key};
pub use telnetd::{Telnetd, TelnetdError};

use netsweep_protocol::{DeviceTarget, HostKeyPolicy, Job, Timeouts};
use std::path::Path;
pub use tempfile;

/// A job for `target` under test conditions: short timeouts (a test never waits long for a
/// device that does not answer) and trust-on-first-use host keys recorded in `known_hosts`.
pub fn job(target: DeviceTarget, commands: &[&str], known_hosts: &Path) -> Job {
    Job {
        id: 0,
        attempt: 1,
        target,
        commands: commands.iter().map(|c| c.to_string()).collect(),
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
        },
        host_key_policy: HostKeyPolicy::AcceptNew,
        known_hosts: Some(known_hosts.to_path_buf()),
        platform_definition: None,
        named_commands: Vec::new(),
        parse: None,
        change: None,
    }
}

/// Calls `f` until it returns true, sleeping briefly between tries; panics naming `what` if
/// `timeout` passes first. The way tests wait: never a bare sleep.
pub fn poll_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if f() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("netsweep-test-")
        .tempdir()
        .expect("create a temporary directory")
}

/// A random `127.x.y.0` base address (x, y in 1..=254) for a test's own /24 of loopback
/// addresses, so concurrent tests using fixed ports never collide. Linux routes all of
/// 127.0.0.0/8 to the loopback interface.
pub fn unique_loopback_base() -> Ipv4Addr {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded per process; the counter separates calls within one process.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    let r = h.finish();
    let x = 1 + (r % 254) as u8;
    let y = 1 + ((r >> 8) % 254) as u8;
    Ipv4Addr::new(127, x, y, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_until_returns_once_true() {
        let mut n = 0;
        poll_until(Duration::from_secs(5), "the third call", || {
            n += 1;
            n == 3
        });
        assert_eq!(n, 3);
    }

    #[test]
    #[should_panic(expected = "waiting for something that never happens")]
    fn poll_until_panics_with_what() {
        poll_until(
            Duration::from_millis(20),
            "something that never happens",
            || false,
        );
    }

    #[test]
    fn loopback_bases_are_loopback_and_vary() {
        let bases: std::collections::HashSet<Ipv4Addr> =
            (0..20).map(|_| unique_loopback_base()).collect();
        assert!(bases.len() > 1);
        for b in bases {
            assert!(
                b.is_loopback() && b.octets()[3] == 0 && b.octets()[1] != 0,
                "{b}"
            );
        }
    }
}
