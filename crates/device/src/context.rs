//! State shared by every session in one process: private keys read once, and known_hosts
//! files read once (then only their new lines), under a lock that serializes this process's
//! access to them.
//!
//! It must not hold anything about a particular device or session.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::SessionError;
use crate::ssh::known_hosts::KnownHostsCache;

/// A private key as read from disk, with its public half when it could be found, so that
/// libssh2 does not have to derive it from the private key on every connection.
pub(crate) struct KeyMaterial {
    pub(crate) private_pem: String,
    pub(crate) public: Option<String>,
    /// The OpenSSH certificate beside the key (`<key>-cert.pub`), if any.
    pub(crate) certificate: Option<String>,
}

impl KeyMaterial {
    /// Whether the private key is passphrase-protected, as far as its text tells: a PEM with
    /// `ENCRYPTED` in it, or an OpenSSH key whose cipher is not `none`.
    pub(crate) fn looks_encrypted(&self) -> bool {
        if self.private_pem.contains("ENCRYPTED") {
            return true;
        }
        // "openssh-key-v1\0" then the cipher name's length and name: the first 36 base64
        // characters of the body decode to those 27 bytes.
        let body: String = self
            .private_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let head = base64_prefix(body.get(..36).unwrap_or(""));
        head.len() >= 23 && head.starts_with(b"openssh-key-v1\0") && &head[19..23] != b"none"
    }
}

/// Decodes standard base64 (no padding expected) as far as it goes: enough to read the header
/// of an OpenSSH private key without a dependency for it.
fn base64_prefix(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks_exact(4) {
        let Some(sextets) = chunk
            .iter()
            .map(|&c| value(c))
            .collect::<Option<Vec<u32>>>()
        else {
            break;
        };
        let n = sextets.iter().fold(0u32, |acc, s| acc << 6 | s);
        out.extend_from_slice(&n.to_be_bytes()[1..]);
    }
    out
}

/// Per-process state shared by every session in this process (`Send + Sync`: threads share
/// one). Create one per process and hand it to every [`run_job`](crate::run_job) call.
pub struct SessionContext {
    keys: Mutex<HashMap<PathBuf, Arc<KeyMaterial>>>,
    /// known_hosts files read so far, by path; the mutex also serializes this process's
    /// access to them.
    pub(crate) known_hosts: Mutex<HashMap<PathBuf, KnownHostsCache>>,
    idle_hook: Mutex<Option<Arc<IdleHook>>>,
    /// User-defined platforms received in jobs, compiled once, by their definition's text.
    user_platforms: Mutex<HashMap<String, Arc<netsweep_platform::Platform>>>,
}

/// Something to do once a session has waited on its device for `after`: see
/// [`SessionContext::set_idle_hook`].
pub(crate) struct IdleHook {
    pub(crate) after: Duration,
    pub(crate) run: Box<dyn Fn() + Send + Sync>,
}

impl fmt::Debug for SessionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.keys.lock().map(|k| k.len()).unwrap_or(0);
        f.debug_struct("SessionContext")
            .field("cached_keys", &cached)
            .finish_non_exhaustive()
    }
}

impl Default for SessionContext {
    fn default() -> Self {
        SessionContext::new()
    }
}

impl SessionContext {
    /// An empty context: no key read yet.
    pub fn new() -> SessionContext {
        SessionContext {
            keys: Mutex::new(HashMap::new()),
            known_hosts: Mutex::new(HashMap::new()),
            idle_hook: Mutex::new(None),
            user_platforms: Mutex::new(HashMap::new()),
        }
    }

    /// The key at `path`, read from disk on first use and from memory afterwards. Failures are
    /// not cached: a key file fixed during a sweep is picked up by the next device.
    pub(crate) fn key(&self, path: &Path) -> Result<Arc<KeyMaterial>, SessionError> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = keys.get(path) {
            return Ok(Arc::clone(key));
        }
        let private_pem =
            std::fs::read_to_string(path).map_err(|source| SessionError::KeyFile {
                path: path.to_path_buf(),
                source,
            })?;
        let mut pub_path = path.as_os_str().to_owned();
        pub_path.push(".pub");
        let public = std::fs::read_to_string(PathBuf::from(&pub_path))
            .ok()
            .filter(|p| !p.trim().is_empty());
        let mut cert_path = path.as_os_str().to_owned();
        cert_path.push("-cert.pub");
        let certificate = std::fs::read_to_string(PathBuf::from(cert_path))
            .ok()
            .filter(|p| !p.trim().is_empty());
        let key = Arc::new(KeyMaterial {
            private_pem,
            public,
            certificate,
        });
        keys.insert(path.to_path_buf(), Arc::clone(&key));
        Ok(key)
    }

    /// Calls `hook` whenever a session of this context has been waiting on its device for
    /// `after` without a reply (once per wait), for sessions started from now on. The
    /// process pool's worker sends the stage reports it holds back then: a device that
    /// answers promptly costs no report of its own.
    pub fn set_idle_hook(&self, after: Duration, hook: impl Fn() + Send + Sync + 'static) {
        *self
            .idle_hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(IdleHook {
            after,
            run: Box::new(hook),
        }));
    }

    pub(crate) fn idle_hook(&self) -> Option<Arc<IdleHook>> {
        self.idle_hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads (or catches up with) the known_hosts file at `file` now rather than at the first
    /// session that needs it: a process about to fork workers calls it so that they inherit it
    /// parsed. A file that cannot be read is left for the sessions to report. Returns whether
    /// anything new was read.
    pub fn preload_known_hosts(&self, file: &Path) -> bool {
        match crate::ssh::known_hosts::preload(self, file) {
            Ok(read) => read,
            Err(e) => {
                tracing::debug!(file = %file.display(), error = %e, "known_hosts not preloaded");
                false
            }
        }
    }

    /// The user-defined platform a job carries, compiled on first use and kept for the
    /// process's later jobs of the same platform.
    pub(crate) fn user_platform(
        &self,
        definition: &serde_json::Value,
    ) -> Result<Arc<netsweep_platform::Platform>, SessionError> {
        let key = definition.to_string();
        let mut cache = self
            .user_platforms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = cache.get(&key) {
            return Ok(Arc::clone(p));
        }
        let platform = Arc::new(crate::platform::compile_definition(definition)?);
        cache.insert(key, Arc::clone(&platform));
        Ok(platform)
    }

    /// How many distinct key files have been read so far (for tests and diagnostics).
    pub fn cached_keys(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        std::fs::write(&path, "KEY ONE").unwrap();
        let ctx = SessionContext::new();
        assert_eq!(ctx.key(&path).unwrap().private_pem, "KEY ONE");
        std::fs::write(&path, "KEY TWO").unwrap();
        assert_eq!(ctx.key(&path).unwrap().private_pem, "KEY ONE");
        assert_eq!(ctx.cached_keys(), 1);
        assert!(ctx.key(&dir.path().join("missing")).is_err());
        assert_eq!(ctx.cached_keys(), 1);
    }

    #[test]
    fn encrypted_keys_are_told_from_plain_ones() {
        let key = |pem: &str| KeyMaterial {
            private_pem: pem.into(),
            public: None,
            certificate: None,
        };
        // The first line of the body of `ssh-keygen -t ed25519` keys, plain and with -N.
        let plain = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n";
        let encrypted = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABDxZq\n";
        assert!(!key(plain).looks_encrypted());
        assert!(key(encrypted).looks_encrypted());
        assert!(key("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n").looks_encrypted());
    }

    #[test]
    fn context_is_shareable_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SessionContext>();
    }
}
