//! The append-only journal writer.
//!
//! Durability, in two steps. Each record goes to the kernel in one `write` of the whole line
//! (newline included) as soon as it arrives, so a killed coordinator (SIGKILL, OOM) loses
//! nothing it was told. `fsync` — protection against power loss — is batched and done by a
//! small background thread: after every [`SYNC_EVERY_RECORDS`] records, and every
//! [`SYNC_INTERVAL`] while anything is unsynced. A sweep of thousands of devices pays a few
//! syncs a second, not one per device, and the caller (the pool's dispatcher) never waits on
//! the disk.
//!
//! The file is created with mode 0600 (outputs hold configurations), never overwritten, and
//! locked (`flock`) against a second netsweep appending to it. This module must not decide
//! what a record says, nor print.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use netsweep_protocol::DeviceRecord;
use nix::fcntl::{Flock, FlockArg};

use crate::JournalError;
use crate::header::JournalHeader;
use crate::reader::{JournalIndex, index_journal};

/// Longest time a written record stays without `fsync`.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// Most records written between two `fsync`s.
pub const SYNC_EVERY_RECORDS: u32 = 64;

/// Appends records to a journal. Dropping it syncs what is left.
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: Arc<Flock<File>>,
    shared: Arc<Shared>,
    syncer: Option<Syncer>,
    len: u64,
    unsynced: u32,
    records: u64,
}

#[derive(Debug, Default)]
struct Shared {
    dirty: AtomicBool,
    syncs: AtomicU64,
    error: Mutex<Option<io::Error>>,
}

#[derive(Debug)]
struct Syncer {
    wake: mpsc::Sender<Wake>,
    handle: JoinHandle<()>,
}

/// What the sync thread is woken for.
#[derive(Debug)]
enum Wake {
    /// A batch is complete: sync now.
    Sync,
    /// The writer is closing.
    Stop,
}

impl JournalWriter {
    /// Creates a new journal at `path` (parent directories too, mode 0700) with mode 0600,
    /// writes `header` and syncs it. An existing file is never overwritten.
    pub fn create(path: &Path, header: &JournalHeader) -> Result<Self, JournalError> {
        let io_err = |action: &'static str| {
            move |source| JournalError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io_err("create the directory of"))?;
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| {
                if source.kind() == io::ErrorKind::AlreadyExists {
                    JournalError::AlreadyExists {
                        path: path.to_path_buf(),
                    }
                } else {
                    JournalError::Io {
                        action: "create",
                        path: path.to_path_buf(),
                        source,
                    }
                }
            })?;
        let file = lock(file, path)?;
        let mut line = serde_json::to_vec(header).map_err(JournalError::Serialize)?;
        line.push(b'\n');
        (&*file).write_all(&line).map_err(io_err("write to"))?;
        file.sync_all().map_err(io_err("sync"))?;
        // The new directory entry must survive a crash too, or the synced file is unreachable.
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync the directory of"))?;
        Ok(Self::start(path, file, line.len() as u64, 0))
    }

    /// Reopens an existing journal to append to it (`--resume`): validates its header, reads
    /// every record (skipping damaged lines, whose devices are then not finished), cuts off a
    /// torn last line, and returns the writer with the journal's index (what is finished).
    pub fn open_append(path: &Path) -> Result<(Self, JournalIndex), JournalError> {
        let io_err = |action: &'static str| {
            move |source| JournalError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io_err("open"))?;
        // Lock before reading: what we index must be what we append to.
        let file = lock(file, path)?;
        let index = index_journal(path)?;
        let on_disk = file.metadata().map_err(io_err("read"))?.len();
        if on_disk != index.valid_len {
            tracing::warn!(
                journal = %path.display(),
                dropped_bytes = on_disk.saturating_sub(index.valid_len),
                "dropping a torn last line left by a crash"
            );
            file.set_len(index.valid_len).map_err(io_err("truncate"))?;
            file.sync_all().map_err(io_err("sync"))?;
        }
        let records = index.records;
        Ok((Self::start(path, file, index.valid_len, records), index))
    }

    fn start(path: &Path, file: Flock<File>, len: u64, records: u64) -> Self {
        let file = Arc::new(file);
        let shared = Arc::new(Shared::default());
        let (wake, woken) = mpsc::channel::<Wake>();
        let syncer = {
            let file = Arc::clone(&file);
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("journal-sync".into())
                .spawn(move || {
                    loop {
                        match woken.recv_timeout(SYNC_INTERVAL) {
                            Ok(Wake::Sync) | Err(RecvTimeoutError::Timeout) => {}
                            Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        }
                        if shared.dirty.swap(false, Ordering::SeqCst) {
                            match file.sync_data() {
                                Ok(()) => {
                                    shared.syncs.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => {
                                    *shared.error.lock().unwrap_or_else(|p| p.into_inner()) =
                                        Some(e);
                                }
                            }
                        }
                    }
                })
                .ok()
                .map(|handle| Syncer { wake, handle })
        };
        if syncer.is_none() {
            tracing::warn!("no journal sync thread; syncing every record instead");
        }
        JournalWriter {
            path: path.to_path_buf(),
            file,
            shared,
            syncer,
            len,
            unsynced: 0,
            records,
        }
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records in the journal, including those there before a resume.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// How many `fsync`s this writer has done (for tests and benchmarks).
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Appends one final record as one line.
    pub fn append(&mut self, record: &DeviceRecord) -> Result<(), JournalError> {
        self.take_background_error()?;
        let mut line = serde_json::to_vec(record).map_err(JournalError::Serialize)?;
        line.push(b'\n');
        if let Err(source) = (&**self.file).write_all(&line) {
            // Leave no half line behind for the next record to be glued to.
            let _ = self.file.set_len(self.len);
            return Err(JournalError::Io {
                action: "write to",
                path: self.path.clone(),
                source,
            });
        }
        self.len += line.len() as u64;
        self.records += 1;
        self.unsynced += 1;
        self.shared.dirty.store(true, Ordering::SeqCst);
        match &self.syncer {
            Some(syncer) if self.unsynced >= SYNC_EVERY_RECORDS => {
                self.unsynced = 0;
                // A closed channel means the thread is gone; the timer path reports errors.
                let _ = syncer.wake.send(Wake::Sync);
            }
            Some(_) => {}
            None => self.flush_and_sync()?,
        }
        Ok(())
    }

    /// Makes everything appended so far durable now.
    pub fn flush_and_sync(&mut self) -> Result<(), JournalError> {
        self.shared.dirty.store(false, Ordering::SeqCst);
        self.file.sync_data().map_err(|source| JournalError::Io {
            action: "sync",
            path: self.path.clone(),
            source,
        })?;
        self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        self.unsynced = 0;
        self.take_background_error()
    }

    fn take_background_error(&self) -> Result<(), JournalError> {
        let error = self
            .shared
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match error {
            Some(source) => Err(JournalError::Io {
                action: "sync",
                path: self.path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        if let Some(syncer) = self.syncer.take() {
            let _ = syncer.wake.send(Wake::Stop);
            let _ = syncer.handle.join();
        }
        if let Err(e) = self.flush_and_sync() {
            tracing::warn!(journal = %self.path.display(), error = %e, "final journal sync failed");
        }
    }
}

fn lock(file: File, path: &Path) -> Result<Flock<File>, JournalError> {
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            JournalError::Locked {
                path: path.to_path_buf(),
            }
        } else {
            JournalError::Io {
                action: "lock",
                path: path.to_path_buf(),
                source: io::Error::from(errno),
            }
        }
    })
}
