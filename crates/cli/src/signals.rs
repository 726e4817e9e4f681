//! Ctrl-C and SIGTERM: the first asks the sweep to stop gracefully, the second stops it now.
//!
//! Handlers only escalate the pool's [`Cancel`] token from a dedicated thread; everything else
//! (stopping workers, the summary, the exit code) happens on the main path. Worker processes
//! sit in their own process groups, so a terminal's Ctrl-C reaches only the coordinator, which
//! decides what happens to them.

use netsweep_pool::{Cancel, CancelLevel};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// Keeps the handlers installed; dropping it removes them.
pub struct SignalGuard {
    handle: Handle,
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.handle.close();
    }
}

/// Routes SIGINT and SIGTERM to `cancel` until the guard drops.
pub fn install(cancel: &Cancel) -> anyhow::Result<SignalGuard> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    let cancel = cancel.clone();
    std::thread::Builder::new()
        .name("netsweep-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                match cancel.escalate() {
                    CancelLevel::Graceful => tracing::warn!(
                        "interrupted: starting no new devices and letting running ones finish; \
                         press Ctrl-C again to stop them now"
                    ),
                    CancelLevel::Immediate => {
                        tracing::warn!("interrupted again: stopping running devices now")
                    }
                    CancelLevel::None => {}
                }
            }
        })?;
    Ok(SignalGuard { handle })
}
