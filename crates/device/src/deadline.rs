//! Deadlines for waiting on a device: one per wait (a stage, one command's output), each capped
//! by the device's overall deadline, and the error each one's expiry means.
//!
//! Transport-neutral: every transport's waits and every CLI exchange take a [`Deadline`]. It
//! never waits itself.

use std::time::{Duration, Instant};

use netsweep_protocol::Stage;

use crate::error::SessionError;

/// The device's overall deadline (the job's `deadline`, counted from the session's start),
/// which caps every wait of the session.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OverallDeadline {
    end: Instant,
    total: Duration,
}

impl OverallDeadline {
    /// A deadline `total` from now.
    pub(crate) fn starting_now(total: Duration) -> OverallDeadline {
        OverallDeadline {
            end: Instant::now() + total,
            total,
        }
    }

    /// A deadline `timeout` from now, or this overall one if sooner.
    pub(crate) fn within(&self, timeout: Duration) -> Deadline {
        Deadline::after(timeout).capped(self)
    }
}

/// A deadline for one wait (a stage, one command's output), and how long it allowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: Instant,
    allowed: Duration,
    /// Set when the device's overall deadline comes first: its length, for the message.
    overall: Option<Duration>,
}

impl Deadline {
    pub(crate) fn after(allowed: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + allowed,
            allowed,
            overall: None,
        }
    }

    /// The same deadline, or the device's overall one if that is sooner.
    fn capped(mut self, overall: &OverallDeadline) -> Deadline {
        if overall.end < self.at {
            self.at = overall.end;
            self.overall = Some(overall.total);
        }
        self
    }

    /// The time left, or the expiry error once there is none.
    pub(crate) fn remaining(&self, stage: Stage) -> Result<Duration, SessionError> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(self.expired(stage))
        } else {
            Ok(left)
        }
    }

    /// What this deadline passing in `stage` means: a timeout, or the device's deadline.
    pub(crate) fn expired(&self, stage: Stage) -> SessionError {
        match self.overall {
            Some(total) => SessionError::DeviceDeadline { stage, total },
            None => SessionError::Timeout {
                stage,
                waited: self.allowed,
            },
        }
    }
}
