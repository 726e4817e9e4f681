//! When each TCP session of a fleet began and ended, as the simulator saw it: for tests and
//! benchmarks that judge how a client paces its sessions (new sessions per second, sessions
//! open at once on a group of devices).
//!
//! One entry per accepted connection (a `flaky` drop included), appended under a lock that is
//! taken twice per session and never held across an await. Times are measured from the
//! fleet's start on the monotonic clock.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// One TCP session of one device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionSpan {
    /// The device.
    pub device: String,
    /// When the connection was accepted, since the fleet started.
    #[serde(rename = "accepted_ms", serialize_with = "millis")]
    pub accepted: Duration,
    /// When the simulator finished with it (the client left, or the device dropped it);
    /// `None` while it is open.
    #[serde(rename = "closed_ms", serialize_with = "optional_millis")]
    pub closed: Option<Duration>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn optional_millis<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis(d, s),
        None => s.serialize_none(),
    }
}

struct Entry {
    device: usize,
    accepted: Instant,
    closed: Option<Instant>,
}

/// The fleet's log of sessions.
pub(crate) struct SessionLog {
    start: Instant,
    entries: Mutex<Vec<Entry>>,
}

impl SessionLog {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(SessionLog {
            start: Instant::now(),
            entries: Mutex::new(Vec::new()),
        })
    }

    /// A session of device `device` (its index in the fleet) starts now; it ends when the
    /// returned guard drops, whichever way the connection's task returns.
    pub(crate) fn open(self: &Arc<Self>, device: usize) -> OpenSession {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.push(Entry {
            device,
            accepted: Instant::now(),
            closed: None,
        });
        OpenSession {
            log: self.clone(),
            index: entries.len() - 1,
        }
    }

    /// Every session so far, in the order they were accepted, named with `names`.
    pub(crate) fn spans(&self, names: &[String]) -> Vec<SessionSpan> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .map(|e| SessionSpan {
                device: names[e.device].clone(),
                accepted: e.accepted - self.start,
                closed: e.closed.map(|c| c - self.start),
            })
            .collect()
    }
}

/// A session being served; dropping it records its end.
pub(crate) struct OpenSession {
    log: Arc<SessionLog>,
    index: usize,
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        let mut entries = self
            .log
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        entries[self.index].closed = Some(Instant::now());
    }
}
