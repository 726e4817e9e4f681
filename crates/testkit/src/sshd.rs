//! An OpenSSH `sshd` on a free loopback port, with its own config, host key, client key and
//! authorized_keys in a temp dir: the real server netsweep's `linux` driver is tested against.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where sshd is when `scripts/test` did not say (it exports the one it found).
const DEFAULT_SSHD: &str = "/usr/sbin/sshd";

/// The sshd to start: `$NETSWEEP_TEST_SSHD`, else [`DEFAULT_SSHD`].
fn sshd_program() -> PathBuf {
    std::env::var_os("NETSWEEP_TEST_SSHD")
        .map_or_else(|| PathBuf::from(DEFAULT_SSHD), PathBuf::from)
}

/// Why an [`Sshd`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum SshdError {
    /// The binary is not installed.
    #[error(
        "{} not found: run scripts/test, which installs it, or install openssh-server",
        program.display()
    )]
    NotInstalled {
        /// Where it was looked for.
        program: PathBuf,
    },
    /// A file or process operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `ssh-keygen` failed.
    #[error("ssh-keygen failed: {0}")]
    Keygen(String),
    /// sshd exited or never listened.
    #[error("sshd did not come up: {reason}; its log:\n{log}")]
    NotListening {
        /// What went wrong.
        reason: String,
        /// sshd's own output.
        log: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SshdError {
    let what = what.into();
    move |source| SshdError::Io { what, source }
}

/// A running OpenSSH server on `127.0.0.1`, killed when dropped.
#[derive(Debug)]
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    child: Option<Child>,
}

impl Sshd {
    /// This server as a `linux` device logging in with the key at `key_file`.
    pub fn linux_target(&self, key_file: &Path) -> netsweep_protocol::DeviceTarget {
        netsweep_protocol::DeviceTarget {
            name: "linux1".into(),
            host: "127.0.0.1".into(),
            port: self.port(),
            platform: "linux".into(),
            username: self.user().into(),
            password: None,
            secret: None,
            key_file: Some(key_file.to_path_buf()),
            groups: vec![],
        }
    }

    /// Generates keys and a config in a fresh temp dir and starts `sshd -D -e` on a free
    /// loopback port, returning once the port accepts connections.
    ///
    /// Public-key authentication only, for [`Sshd::user`] with [`Sshd::client_key_path`].
    pub fn start() -> Result<Sshd, SshdError> {
        Sshd::start_inner(false)
    }

    /// Like [`Sshd::start`], with an RSA host key besides the Ed25519 one, for tests of which
    /// key type a client asks for.
    pub fn start_with_rsa_host_key() -> Result<Sshd, SshdError> {
        Sshd::start_inner(true)
    }

    fn start_inner(with_rsa: bool) -> Result<Sshd, SshdError> {
        let program = sshd_program();
        if !program.exists() {
            return Err(SshdError::NotInstalled { program });
        }
        // sshd refuses to start without its privilege-separation directory.
        fs::create_dir_all("/run/sshd").map_err(io("create /run/sshd"))?;
        let dir = tempfile::Builder::new()
            .prefix("netsweep-sshd-")
            .tempdir()
            .map_err(io("create the sshd temp dir"))?;
        keygen(&dir.path().join("host_key"), "ed25519")?;
        if with_rsa {
            keygen(&dir.path().join("host_key_rsa"), "rsa")?;
        }
        keygen(&dir.path().join("client_key"), "ed25519")?;
        fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .map_err(io("write authorized_keys"))?;
        let user = current_user()?;
        let mut sshd = Sshd {
            dir,
            port: 0,
            user,
            child: None,
        };
        sshd.launch_on_free_port()?;
        Ok(sshd)
    }

    /// The port sshd listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The user to log in as: the user running the tests.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Private key accepted by this server (its `.pub` sits next to it).
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// The server's current host key, as in a `.pub` file: `ssh-ed25519 AAAA… comment`.
    pub fn host_key_line(&self) -> String {
        fs::read_to_string(self.dir.path().join("host_key.pub"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// The server's RSA host key, if it was started with one.
    pub fn rsa_host_key_line(&self) -> Option<String> {
        fs::read_to_string(self.dir.path().join("host_key_rsa.pub"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// The server's own directory (config, keys, `sshd.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server, gives it a brand-new host key and starts it again on the same port:
    /// to a client that recorded the old key, this is a man in the middle.
    pub fn restart_with_new_host_key(&mut self) -> Result<(), SshdError> {
        self.stop();
        for name in ["host_key", "host_key.pub"] {
            let _ = fs::remove_file(self.dir.path().join(name));
        }
        keygen(&self.dir.path().join("host_key"), "ed25519")?;
        let port = self.port;
        // The old listener is gone once the child is reaped; binding again may still race a
        // TIME_WAIT-free but not yet released socket, so retry briefly.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.launch(port) {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn launch_on_free_port(&mut self) -> Result<(), SshdError> {
        let mut last = None;
        // Another test may grab the port between probing and sshd's bind: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(io("find a free port"))?
                .port();
            match self.launch(port) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(SshdError::NotListening {
            reason: "no attempt made".into(),
            log: String::new(),
        }))
    }

    fn launch(&mut self, port: u16) -> Result<(), SshdError> {
        let dir = self.dir.path();
        let config = dir.join("sshd_config");
        let rsa = if dir.join("host_key_rsa").exists() {
            format!("HostKey {}/host_key_rsa\n", dir.display())
        } else {
            String::new()
        };
        fs::write(
            &config,
            format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {dir}/host_key\n\
                 {rsa}\
                 AuthorizedKeysFile {dir}/authorized_keys\n\
                 PermitRootLogin yes\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PidFile none\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 LogLevel VERBOSE\n",
                dir = dir.display()
            ),
        )
        .map_err(io("write sshd_config"))?;
        let log_path = dir.join("sshd.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io("open sshd.log"))?;
        let child = Command::new(sshd_program())
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io(format!("spawn {}", sshd_program().display())))?;
        self.child = Some(child);
        self.port = port;

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                let reason = match exited {
                    Some(status) => format!("it exited with {status}"),
                    None => format!("port {port} did not accept connections within 10 s"),
                };
                self.stop();
                return Err(SshdError::NotListening {
                    reason,
                    log: fs::read_to_string(&log_path).unwrap_or_default(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn keygen(path: &Path, key_type: &str) -> Result<(), SshdError> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", key_type, "-N", "", "-C", "netsweep-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SshdError::Keygen(format!("could not run it: {e}")))?;
    if !out.status.success() {
        return Err(SshdError::Keygen(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    Ok(())
}

fn current_user() -> Result<String, SshdError> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(io("run id -un"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sshd_starts_answers_and_changes_key_on_restart() {
        let mut sshd = Sshd::start().expect("start sshd");
        let mut banner = [0u8; 8];
        let mut s = TcpStream::connect(sshd.addr()).unwrap();
        std::io::Read::read_exact(&mut s, &mut banner).unwrap();
        assert_eq!(&banner, b"SSH-2.0-");
        let old = sshd.host_key_line();
        assert!(old.starts_with("ssh-ed25519 "), "{old}");
        let port = sshd.port();
        sshd.restart_with_new_host_key().unwrap();
        assert_eq!(sshd.port(), port);
        assert_ne!(sshd.host_key_line(), old);
        assert!(TcpStream::connect(sshd.addr()).is_ok());
    }
}
