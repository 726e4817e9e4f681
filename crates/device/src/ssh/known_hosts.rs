//! Host key checking against netsweep's own OpenSSH-format known_hosts file.
//!
//! Several worker processes (and threads) may append to one file at once, so every look at
//! the file and every append happens under an exclusive `flock` on it (plus a process mutex:
//! threads of one process each open their own descriptor). A changed key is never accepted,
//! whatever the policy; `off` checks nothing.
//!
//! The file is parsed once per process and then only its new tail is read (netsweep only ever
//! appends to it): re-parsing a file of thousands of hosts for every connection, under the
//! lock, would serialize a large sweep (measured: 846 → 467 sessions/s with 5,000 entries).
//! Plain entries are matched here; hashed (`|1|…`) or wildcard entries, which a hand-made
//! file may hold, are left to libssh2's matcher.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use netsweep_protocol::{HostKeyPolicy, Stage};
use nix::fcntl::{Flock, FlockArg};
use ssh2::{CheckResult, KnownHostFileKind, KnownHostKeyFormat};

use crate::context::SessionContext;
use crate::error::SessionError;

/// The name OpenSSH files a host under: `host`, or `[host]:port` off port 22.
pub(crate) fn entry_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// One known_hosts file as far as this process has read it.
#[derive(Debug, Default)]
pub(crate) struct KnownHostsCache {
    /// (device, inode) of the file read; another file at the path means start over.
    identity: Option<(u64, u64)>,
    /// Bytes consumed, always at the end of a complete line.
    offset: u64,
    /// Whether the consumed part ends with a newline (a hand-edited file may not).
    ends_with_newline: bool,
    /// Entries under plain host names.
    plain: PlainEntries,
    /// Lines with hashed or wildcard names, judged by libssh2.
    other_lines: Vec<String>,
}

impl KnownHostsCache {
    /// Takes in one line of the file. Plain entries are found by lookups once
    /// `self.plain.index()` has run (once per batch of lines).
    fn add_line(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        let mut fields = line.split_whitespace();
        let (Some(names), Some(key_type), Some(key)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return;
        };
        if names.starts_with('|') || names.starts_with('@') || names.contains(['*', '?', '!']) {
            if !self.other_lines.iter().any(|l| l == line) {
                self.other_lines.push(line.to_string());
            }
            return;
        }
        self.plain.add(names, key_type, key);
    }

    /// Reads whatever was appended since the last look (or everything, for a new file).
    /// Returns whether anything was read.
    fn catch_up(&mut self, file: &mut File) -> std::io::Result<bool> {
        let meta = file.metadata()?;
        let identity = (meta.dev(), meta.ino());
        if self.identity != Some(identity) || meta.len() < self.offset {
            *self = KnownHostsCache {
                identity: Some(identity),
                ends_with_newline: true,
                ..Default::default()
            };
        }
        if meta.len() == self.offset {
            return Ok(false);
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        let complete = tail.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in String::from_utf8_lossy(&tail).lines() {
            self.add_line(line);
        }
        self.plain.index();
        // An unterminated last line is read (above) but not consumed, so it is read again,
        // whole, once someone terminates it.
        self.offset += complete as u64;
        self.ends_with_newline = complete == tail.len();
        Ok(true)
    }

    fn check(
        &self,
        session: &ssh2::Session,
        key: &PresentedKey<'_>,
    ) -> Result<CheckResult, ssh2::Error> {
        let mut same_type = self
            .plain
            .keys(key.entry)
            .filter(|(t, _)| *t == key.key_type)
            .peekable();
        if same_type.peek().is_some() {
            return Ok(if same_type.any(|(_, k)| k == key.base64) {
                CheckResult::Match
            } else {
                CheckResult::Mismatch
            });
        }
        if self.other_lines.is_empty() {
            return Ok(CheckResult::NotFound);
        }
        let mut others = session.known_hosts()?;
        for line in &self.other_lines {
            // A line libssh2 cannot parse cannot vouch for anything; skip it.
            let _ = others.read_str(line, KnownHostFileKind::OpenSSH);
        }
        Ok(others.check_port(key.host, key.port, key.raw))
    }
}

/// The entries under plain host names, kept compact, because every forked worker carries a
/// copy: their text once, and a sorted index of (hash of a name, where its line starts).
/// 1,000 hosts cost about 110 KB here, against about 550 KB as a map of strings (measured
/// in a worker's heap).
#[derive(Debug, Default)]
struct PlainEntries {
    /// `names key-type key\n` per entry.
    text: String,
    /// (hash of one name, offset of its line in `text`); sorted up to `sorted` (lines added
    /// since are found once [`PlainEntries::index`] has run).
    index: Vec<(u64, u32)>,
    sorted: usize,
}

impl PlainEntries {
    fn add(&mut self, names: &str, key_type: &str, key: &str) {
        // A line read again (it had no newline yet when first read) is not added twice.
        if names
            .split(',')
            .all(|n| self.keys(n).any(|pair| pair == (key_type, key)))
        {
            return;
        }
        let Ok(offset) = u32::try_from(self.text.len()) else {
            return; // 4 GiB of known hosts: beyond any real file
        };
        for name in names.split(',') {
            self.index.push((name_hash(name), offset));
        }
        self.text.push_str(names);
        for field in [key_type, key] {
            self.text.push(' ');
            self.text.push_str(field);
        }
        self.text.push('\n');
    }

    /// Sorts the index after lines were added.
    fn index(&mut self) {
        self.index.sort_unstable();
        self.index.dedup();
        self.sorted = self.index.len();
    }

    /// The `(key type, base64 key)` pairs recorded under `name`.
    fn keys<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let hash = name_hash(name);
        let sorted = &self.index[..self.sorted];
        let from = sorted.partition_point(|&(h, _)| h < hash);
        sorted[from..]
            .iter()
            .take_while(move |&&(h, _)| h == hash)
            .filter_map(move |&(_, offset)| {
                let line = self.text[offset as usize..].lines().next()?;
                let mut fields = line.split(' ');
                let names = fields.next()?;
                let pair = (fields.next()?, fields.next()?);
                names.split(',').any(|n| n == name).then_some(pair)
            })
    }
}

fn name_hash(name: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(name)
}

/// This process's known_hosts caches, locked.
type Caches<'a> = std::sync::MutexGuard<'a, HashMap<PathBuf, KnownHostsCache>>;

/// Opens `file` (creating it 0600), locks it and brings this process's cache of it up to
/// date; the returned guards keep both locks held. The flag says whether anything new was read.
fn open_locked<'a>(
    ctx: &'a SessionContext,
    file: &Path,
) -> Result<(Caches<'a>, Flock<File>, bool), SessionError> {
    let known_hosts_error = |detail: String| SessionError::KnownHosts {
        file: file.to_path_buf(),
        detail,
    };
    let mut caches = ctx
        .known_hosts
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let handle = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| known_hosts_error(e.to_string()))?;
    let mut locked: Flock<File> = Flock::lock(handle, FlockArg::LockExclusive)
        .map_err(|(_, errno)| known_hosts_error(format!("could not lock it: {errno}")))?;
    let read = caches
        .entry(file.to_path_buf())
        .or_default()
        .catch_up(&mut locked)
        .map_err(|e| known_hosts_error(format!("could not read it: {e}")))?;
    Ok((caches, locked, read))
}

/// Brings this process's cache of `file` up to date; whether anything new was read.
pub(crate) fn preload(ctx: &SessionContext, file: &Path) -> Result<bool, SessionError> {
    open_locked(ctx, file).map(|(_, _, read)| read)
}

/// Key types already recorded for `host:port`, so the handshake can ask for one of them first
/// (as OpenSSH does): a device that also has a newer key type keeps matching its entry.
pub(crate) fn known_key_types(
    ctx: &SessionContext,
    file: &Path,
    host: &str,
    port: u16,
) -> Result<Vec<String>, SessionError> {
    let (caches, _locked, _) = open_locked(ctx, file)?;
    let entry = entry_name(host, port);
    let mut types: Vec<String> = Vec::new();
    for (key_type, _) in caches
        .get(file)
        .into_iter()
        .flat_map(|c| c.plain.keys(&entry))
    {
        if !types.iter().any(|t| t == key_type) {
            types.push(key_type.to_string());
        }
    }
    Ok(types)
}

/// The host key a server presented, and where.
struct PresentedKey<'a> {
    /// The known_hosts name (`[host]:port`).
    entry: &'a str,
    host: &'a str,
    port: u16,
    /// `ssh-ed25519`, `ssh-rsa`…
    key_type: &'a str,
    /// The key as known_hosts writes it.
    base64: &'a str,
    /// The key blob as the server sent it.
    raw: &'a [u8],
}

/// Checks the session's host key under `policy`, recording it under `accept-new` when the
/// host is not known yet.
pub(crate) fn verify(
    session: &ssh2::Session,
    ctx: &SessionContext,
    policy: HostKeyPolicy,
    file: Option<&Path>,
    host: &str,
    port: u16,
) -> Result<(), SessionError> {
    let policy_name = match policy {
        HostKeyPolicy::Off => return Ok(()),
        HostKeyPolicy::Strict => "strict",
        HostKeyPolicy::AcceptNew => "accept-new",
    };
    let file = file.ok_or(SessionError::NoKnownHostsFile {
        policy: policy_name,
    })?;
    let (raw_key, key_type) = session.host_key().ok_or_else(|| SessionError::Protocol {
        stage: Stage::HostKey,
        detail: "the server sent no host key".into(),
        source: None,
    })?;
    let entry = entry_name(host, port);
    let known_hosts_error = |detail: String| SessionError::KnownHosts {
        file: file.to_path_buf(),
        detail,
    };
    // The line this key would be recorded as; its fields are also what the file holds.
    let line = openssh_line(session, &entry, raw_key, KnownHostKeyFormat::from(key_type))
        .map_err(|e| known_hosts_error(format!("could not encode the key: {e}")))?;
    let mut fields = line.split_whitespace().skip(1);
    let (Some(type_name), Some(key_b64)) = (fields.next(), fields.next()) else {
        return Err(known_hosts_error(format!(
            "libssh2 wrote an odd line {line:?}"
        )));
    };

    let (mut caches, mut locked, _) = open_locked(ctx, file)?;
    let cache = caches.entry(file.to_path_buf()).or_default();
    let presented = PresentedKey {
        entry: &entry,
        host,
        port,
        key_type: type_name,
        base64: key_b64,
        raw: raw_key,
    };
    let verdict = cache
        .check(session, &presented)
        .map_err(|e| known_hosts_error(format!("libssh2 could not check it: {e}")))?;
    match verdict {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(SessionError::HostKeyChanged {
            entry,
            file: file.to_path_buf(),
        }),
        CheckResult::NotFound if cache.plain.keys(&entry).next().is_some() => {
            // Known under another key type only: a server that stopped offering the recorded
            // type (the handshake asked for it first) is treated as a changed key, not a new
            // host, or a downgrade would pass as trust on first use.
            Err(SessionError::HostKeyChanged {
                entry,
                file: file.to_path_buf(),
            })
        }
        CheckResult::NotFound if policy == HostKeyPolicy::Strict => {
            Err(SessionError::HostKeyUnknown {
                entry,
                file: file.to_path_buf(),
            })
        }
        CheckResult::NotFound => {
            let record = if cache.ends_with_newline {
                line.clone()
            } else {
                format!("\n{line}")
            };
            locked
                .write_all(record.as_bytes())
                .and_then(|()| locked.sync_data())
                .map_err(|e| known_hosts_error(format!("could not append to it: {e}")))?;
            // Everything up to our line was read under this same lock.
            cache.offset += record.len() as u64;
            cache.ends_with_newline = true;
            cache.add_line(&line);
            cache.plain.index();
            tracing::info!(entry = %entry, "recorded a new host key");
            Ok(())
        }
        CheckResult::Failure => Err(known_hosts_error("libssh2 could not check it".into())),
    }
}

/// One known_hosts line for `entry`, written by libssh2 itself so the format is exactly what
/// OpenSSH and libssh2 read.
fn openssh_line(
    session: &ssh2::Session,
    entry: &str,
    key: &[u8],
    format: KnownHostKeyFormat,
) -> Result<String, ssh2::Error> {
    let mut single = session.known_hosts()?;
    single.add(entry, key, "", format)?;
    let hosts = single.hosts()?;
    let host = hosts.first().ok_or_else(|| {
        ssh2::Error::new(
            ssh2::ErrorCode::Session(super::code::KNOWN_HOSTS),
            "added host is missing",
        )
    })?;
    let mut line = single.write_string(host, KnownHostFileKind::OpenSSH)?;
    if !line.ends_with('\n') {
        line.push('\n');
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_openssh_naming() {
        assert_eq!(entry_name("127.0.0.2", 22), "127.0.0.2");
        assert_eq!(entry_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn the_cache_reads_only_what_was_appended_and_survives_a_missing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(
            &path,
            "# comment\n[a]:22 ssh-ed25519 AAAA1\n|1|salt|hash ssh-ed25519 AAAA2\nb,c ssh-rsa AAAA3",
        )
        .unwrap();
        let mut file = File::open(&path).unwrap();
        let mut cache = KnownHostsCache::default();
        cache.catch_up(&mut file).unwrap();
        let keys = |cache: &KnownHostsCache, name: &str| -> Vec<(String, String)> {
            let pairs = cache.plain.keys(name);
            pairs.map(|(t, k)| (t.into(), k.into())).collect()
        };
        assert_eq!(
            keys(&cache, "[a]:22"),
            [("ssh-ed25519".into(), "AAAA1".into())]
        );
        assert_eq!(keys(&cache, "c"), [("ssh-rsa".into(), "AAAA3".into())]);
        assert_eq!(cache.other_lines.len(), 1);
        assert!(!cache.ends_with_newline);

        // Someone finishes the last line and appends another: both are read, once.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b" comment\nd ssh-ed25519 AAAA4\n").unwrap();
        cache.catch_up(&mut file).unwrap();
        assert_eq!(keys(&cache, "b").len(), 1);
        assert_eq!(keys(&cache, "d"), [("ssh-ed25519".into(), "AAAA4".into())]);
        assert!(cache.ends_with_newline);
        assert_eq!(cache.offset, std::fs::metadata(&path).unwrap().len());

        // A different file at the path (rewritten by hand) is read from scratch.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "e ssh-ed25519 AAAA5\n").unwrap();
        let mut file = File::open(&path).unwrap();
        cache.catch_up(&mut file).unwrap();
        assert!(keys(&cache, "d").is_empty());
        assert_eq!(keys(&cache, "e").len(), 1);
    }
}
