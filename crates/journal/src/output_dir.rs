//! `--output-dir DIR`: one file per device and command, `DIR/<device>/<NN>-<command>.txt`
//! (standard error, when there is any, beside it as `.stderr.txt`).
//!
//! Device names come from the inventory and commands from the command line, so neither is
//! trusted as a path: only `[A-Za-z0-9._-]` survive, a name that had to be changed (or is
//! `.`/`..`, hidden, empty or too long) gets `~` and a hash of the original appended — `~`
//! never survives sanitising, so a changed name can never equal an unchanged one, and two
//! changed names differ by their hashes. The mapping is a pure function of the name, so a
//! resumed run writes to the same place. Command file names are sanitised the same way and
//! numbered by position, so the same command twice gets two files and no name starts with a
//! dot.
//!
//! Files are written whole (temporary file, then rename) with mode 0600, directories 0700:
//! outputs hold configurations. This module must not contact devices or print.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use netsweep_protocol::DeviceRecord;
use sha2::{Digest, Sha256};

const MAX_DEVICE_NAME: usize = 100;
const MAX_COMMAND_NAME: usize = 80;

/// Writes records' outputs under a directory.
#[derive(Clone, Debug)]
pub struct OutputDir {
    root: PathBuf,
}

impl OutputDir {
    /// Uses (and creates, mode 0700) `root`.
    pub fn create(root: &Path) -> io::Result<Self> {
        DirBuilder::new().recursive(true).mode(0o700).create(root)?;
        Ok(OutputDir {
            root: root.to_path_buf(),
        })
    }

    /// The directory for `device`.
    pub fn device_dir(&self, device: &str) -> PathBuf {
        self.root.join(safe_name(device, MAX_DEVICE_NAME))
    }

    /// Writes one file per command of `record` (and per non-empty stderr); returns the paths
    /// written, in command order. A record without outputs writes nothing.
    pub fn write_record(&self, record: &DeviceRecord) -> io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        if record.outputs.is_empty() {
            return Ok(written);
        }
        let dir = self.device_dir(&record.device);
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        let width = record.outputs.len().to_string().len().max(2);
        for (i, out) in record.outputs.iter().enumerate() {
            // The number makes the name unique and keeps it from starting with a dot, so the
            // command needs no hash: readable names for the common case.
            let mut command = sanitize(&out.command);
            command.truncate(MAX_COMMAND_NAME);
            let stem = format!("{:0width$}-{command}", i + 1);
            let path = dir.join(format!("{stem}.txt"));
            write_whole(&path, out.output.as_bytes())?;
            written.push(path);
            if let Some(stderr) = out.stderr.as_deref().filter(|s| !s.is_empty()) {
                let path = dir.join(format!("{stem}.stderr.txt"));
                write_whole(&path, stderr.as_bytes())?;
                written.push(path);
            }
        }
        // `--diff`: the running configuration's change, beside the outputs.
        if let Some(diff) = record.change.as_ref().and_then(|c| c.diff.as_deref()) {
            let path = dir.join("config.diff");
            write_whole(&path, diff.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }
}

fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    drop(file);
    fs::rename(&tmp, path)
}

/// A file-name-safe, collision-free, deterministic form of `name` (see the module doc).
pub fn safe_name(name: &str, max_len: usize) -> String {
    let mut out = sanitize(name);
    // Dot-led names hide, `.`/`..` traverse; long names break file systems' limits.
    let changed = out != name || out.is_empty() || out.starts_with('.') || out.len() > max_len;
    if changed {
        if out.starts_with('.') {
            out.replace_range(0..1, "_");
        }
        out.truncate(max_len);
        let digest = Sha256::digest(name.as_bytes());
        out.push('~');
        for b in &digest[..6] {
            out.push_str(&format!("{b:02x}"));
        }
    }
    out
}

/// Every character outside `[A-Za-z0-9._-]` becomes `_` (so the result is ASCII).
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_are_unchanged_when_already_safe() {
        assert_eq!(safe_name("r1", 100), "r1");
        assert_eq!(safe_name("core-sw.lab_2", 100), "core-sw.lab_2");
    }

    #[test]
    fn unsafe_names_are_sanitised_and_never_collide() {
        let names = [
            "..",
            ".",
            "",
            "../etc/passwd",
            "a/b",
            "a_b",
            "a b",
            "a\\b",
            "~",
            ".hidden",
            "127.0.0.1:2222",
            "[::1]:22",
            "r1\n",
            "ρ1",
        ];
        let mapped: Vec<String> = names.iter().map(|n| safe_name(n, 100)).collect();
        for (n, m) in names.iter().zip(&mapped) {
            assert!(!m.is_empty() && !m.starts_with('.'), "{n:?} -> {m:?}");
            assert!(
                m.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-~".contains(c)),
                "{n:?} -> {m:?}"
            );
        }
        let mut unique = mapped.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), mapped.len(), "{mapped:?}");
        assert_eq!(safe_name("a_b", 100), "a_b");
        assert!(safe_name("a/b", 100).starts_with("a_b~"));
    }

    #[test]
    fn long_names_are_cut_and_stay_distinct() {
        let a = "x".repeat(300);
        let b = format!("{}y", "x".repeat(299));
        assert!(safe_name(&a, 100).len() <= 113);
        assert_ne!(safe_name(&a, 100), safe_name(&b, 100));
    }
}
