//! BusyBox's `telnetd` on a free loopback port, running a login program the test writes: a
//! telnet server whose option negotiation, NVT line handling and pty are code not written
//! here, so netsweep's telnet client is checked against someone else's reading of the RFCs.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The BusyBox to run when `scripts/test` did not say (it exports one with the `telnetd`
/// applet as `NETSWEEP_TEST_BUSYBOX`): `busybox` on `PATH`.
const DEFAULT_BUSYBOX: &str = "busybox";

fn busybox_program() -> PathBuf {
    std::env::var_os("NETSWEEP_TEST_BUSYBOX")
        .map_or_else(|| PathBuf::from(DEFAULT_BUSYBOX), PathBuf::from)
}

/// Why a [`Telnetd`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelnetdError {
    /// A file or process operation failed (BusyBox missing included).
    #[error(
        "{what} (run scripts/test, which installs a BusyBox with telnetd and exports \
         NETSWEEP_TEST_BUSYBOX)"
    )]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// telnetd exited or never listened.
    #[error("busybox telnetd did not come up: {reason}; its log:\n{log}")]
    NotListening {
        /// What went wrong.
        reason: String,
        /// telnetd's own output.
        log: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TelnetdError {
    let what = what.into();
    move |source| TelnetdError::Io { what, source }
}

/// A running `busybox telnetd -F` on `127.0.0.1`, killed when dropped (its sessions' ptys
/// close with it, so their login programs get a hangup).
#[derive(Debug)]
pub struct Telnetd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Telnetd {
    /// Writes `login_program` (a script, `#!` line included) and `issue` (shown before it, as
    /// `/etc/issue` would be) to a fresh temp dir and starts telnetd running the script for
    /// each connection, returning once telnetd listens.
    pub fn start(login_program: &str, issue: &str) -> Result<Telnetd, TelnetdError> {
        let dir = tempfile::Builder::new()
            .prefix("netsweep-telnetd-")
            .tempdir()
            .map_err(io("create the telnetd temp dir"))?;
        let login = dir.path().join("login");
        fs::write(&login, login_program).map_err(io("write the login program"))?;
        fs::set_permissions(&login, fs::Permissions::from_mode(0o755))
            .map_err(io("make the login program executable"))?;
        let issue_file = dir.path().join("issue");
        fs::write(&issue_file, issue).map_err(io("write the issue file"))?;
        let log_path = dir.path().join("telnetd.log");
        let log = fs::File::create(&log_path).map_err(io("create telnetd.log"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(io("find a free port"))?
            .port();
        let program = busybox_program();
        let child = Command::new(&program)
            .arg("telnetd")
            .arg("-F")
            // The connection closes when the login program exits, as a device hangs up.
            .arg("-K")
            .arg("-b")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-l")
            .arg(&login)
            .arg("-f")
            .arg(&issue_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io(format!("spawn {} telnetd", program.display())))?;
        let mut telnetd = Telnetd { dir, port, child };
        telnetd.wait_until_listening(&log_path)?;
        Ok(telnetd)
    }

    /// Waits for the listening socket in `/proc/net/tcp`, not by connecting: a connection
    /// would start a session.
    fn wait_until_listening(&mut self, log_path: &Path) -> Result<(), TelnetdError> {
        let not_listening = |reason: String| TelnetdError::NotListening {
            reason,
            log: fs::read_to_string(log_path).unwrap_or_default(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if listening_on(self.port) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(not_listening(format!("it exited with {status}")));
            }
            if Instant::now() >= deadline {
                return Err(not_listening(format!(
                    "port {} not listening after 10 s",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port telnetd listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's own directory (login program, issue file, `telnetd.log`), where a login
    /// program may also leave notes for the test.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Telnetd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a socket listens on `127.0.0.1:port`, by the kernel's table (`st` 0A = LISTEN).
fn listening_on(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    fs::read_to_string("/proc/net/tcp").is_ok_and(|table| {
        table.lines().skip(1).any(|line| {
            let mut fields = line.split_whitespace().skip(1);
            fields.next() == Some(local.as_str()) && fields.nth(1) == Some("0A")
        })
    })
}
