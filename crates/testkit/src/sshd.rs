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
    options: SshdOptions,
}

/// What an [`Sshd`] allows beyond public-key logins with [`Sshd::client_key_path`].
#[derive(Clone, Debug, Default)]
pub struct SshdOptions {
    /// An RSA host key besides the Ed25519 one.
    pub rsa_host_key: bool,
    /// `AllowTcpForwarding yes`: the server can be a jump host (`direct-tcpip` channels).
    pub tcp_forwarding: bool,
    /// `PasswordAuthentication yes` (checked against the system's accounts: in tests, any
    /// password is a wrong one).
    pub password_auth: bool,
    /// Trust user certificates signed by this CA (`TrustedUserCAKeys`): a CA key pair is made
    /// in the server's directory ([`Sshd::user_ca_path`]).
    pub user_ca: bool,
}

impl Sshd {
    /// This server as a `linux` device logging in with the key at `key_file`.
    pub fn linux_target(&self, key_file: &Path) -> netsweep_protocol::DeviceTarget {
        netsweep_protocol::DeviceTarget {
            name: "linux1".into(),
            host: "127.0.0.1".into(),
            port: self.port(),
            platform: "linux".into(),
            transport: Default::default(),
            username: self.user().into(),
            password: None,
            secret: None,
            key_file: Some(key_file.to_path_buf()),
            groups: vec![],
            ssh: Default::default(),
        }
    }

    /// Generates keys and a config in a fresh temp dir and starts `sshd -D -e` on a free
    /// loopback port, returning once the port accepts connections.
    ///
    /// Public-key authentication only, for [`Sshd::user`] with [`Sshd::client_key_path`].
    pub fn start() -> Result<Sshd, SshdError> {
        Sshd::start_with(SshdOptions::default())
    }

    /// Like [`Sshd::start`], with an RSA host key besides the Ed25519 one, for tests of which
    /// key type a client asks for.
    pub fn start_with_rsa_host_key() -> Result<Sshd, SshdError> {
        Sshd::start_with(SshdOptions {
            rsa_host_key: true,
            ..SshdOptions::default()
        })
    }

    /// A server that can serve as a jump host: TCP forwarding allowed, and password logins
    /// (any password is wrong) besides the client key.
    pub fn start_jump_host() -> Result<Sshd, SshdError> {
        Sshd::start_with(SshdOptions {
            tcp_forwarding: true,
            password_auth: true,
            ..SshdOptions::default()
        })
    }

    /// Like [`Sshd::start`], with `options`.
    pub fn start_with(options: SshdOptions) -> Result<Sshd, SshdError> {
        let with_rsa = options.rsa_host_key;
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
        if options.user_ca {
            keygen(&dir.path().join("user_ca"), "ed25519")?;
        }
        let user = current_user()?;
        let mut sshd = Sshd {
            dir,
            port: 0,
            user,
            child: None,
            options,
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

    /// The user CA's private key (with `user_ca`), for [`sign_user_key`].
    pub fn user_ca_path(&self) -> PathBuf {
        self.dir.path().join("user_ca")
    }

    /// Lets the public key in `pub_line` (`ssh-ed25519 AAAA…`) log in too.
    pub fn authorize(&self, pub_line: &str) -> Result<(), SshdError> {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .map_err(io("open authorized_keys"))?;
        std::io::Write::write_all(&mut file, format!("{}\n", pub_line.trim()).as_bytes())
            .map_err(io("append to authorized_keys"))
    }

    /// How many logins the server has accepted so far, by its log (each is one SSH
    /// connection that authenticated).
    pub fn accepted_logins(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("Accepted ") && l.contains(" for "))
            .count()
    }

    /// How many failed password attempts the server has logged.
    pub fn failed_passwords(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("Failed password") || l.contains("Failed keyboard-interactive"))
            .count()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Kills the server and every session process it forked, as a crashed or powered-off
    /// bastion would go: established connections drop, new ones are refused.
    pub fn kill_all(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as i32;
        // Stopped first, it accepts no new connection while its children are found.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGSTOP,
        );
        for descendant in descendants(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(descendant),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
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
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let ca = if self.options.user_ca {
            format!("TrustedUserCAKeys {}/user_ca.pub\n", dir.display())
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
                 {ca}\
                 AuthorizedKeysFile {dir}/authorized_keys\n\
                 PermitRootLogin yes\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PidFile none\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication {password}\n\
                 KbdInteractiveAuthentication no\n\
                 AllowTcpForwarding {forwarding}\n\
                 MaxStartups 1000\n\
                 LogLevel VERBOSE\n",
                dir = dir.display(),
                password = yes_no(self.options.password_auth),
                forwarding = yes_no(self.options.tcp_forwarding),
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

/// Every process descended from `pid`, children before their parents' siblings (Linux
/// `/proc/<pid>/task/*/children`).
fn descendants(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        let tasks = fs::read_dir(format!("/proc/{parent}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

fn keygen(path: &Path, key_type: &str) -> Result<(), SshdError> {
    keygen_with_passphrase(path, key_type, "")
}

/// Generates a key pair at `path` (and `path.pub`) with `ssh-keygen`, encrypted with
/// `passphrase` unless it is empty.
pub fn keygen_with_passphrase(
    path: &Path,
    key_type: &str,
    passphrase: &str,
) -> Result<(), SshdError> {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            key_type,
            "-N",
            passphrase,
            "-C",
            "netsweep-test",
            "-f",
        ])
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

/// Signs the public key `key_pub` (a `.pub` file) with the CA key `ca` as a user certificate
/// for `principal`; the certificate is written beside it as `<key>-cert.pub`, where OpenSSH
/// (and netsweep) look for it.
pub fn sign_user_key(ca: &Path, key_pub: &Path, principal: &str) -> Result<PathBuf, SshdError> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(ca)
        .args(["-I", "netsweep-test", "-n", principal, "-V", "-5m:+1h"])
        .arg(key_pub)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SshdError::Keygen(format!("could not run it: {e}")))?;
    if !out.status.success() {
        return Err(SshdError::Keygen(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    let name = key_pub.to_string_lossy();
    Ok(PathBuf::from(format!(
        "{}-cert.pub",
        name.strip_suffix(".pub").unwrap_or(&name)
    )))
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
