//! Workers started by `fork` from a pre-initialised worker process, the fork server, instead of
//! by `exec` of a fresh binary each time.
//!
//! Why: a freshly exec'd `netsweep-worker` spends about 5 ms of CPU before its first device
//! (the dynamic linker resolving libcrypto's symbols, OpenSSL 3 building its algorithm tables,
//! the known_hosts file parsed again), and a pool of 100 workers pays that 100 times on the same
//! cores as the devices' handshakes: processes reached only 58 % of the thread pool's throughput
//! on 1,000 devices at W=100. The fork server pays it once; each worker is a `fork` of it, a
//! separate process with its own memory, pipes, process group and exit status, exactly as an
//! exec'd worker, and killed, recycled and supervised the same way.
//!
//! The server never runs a job and never holds a credential, so no worker inherits anything
//! of another device. It must stay single-threaded: forking a threaded process is not safe.
//! Only a parent can reap a process, so its children's exit statuses reach the coordinator
//! through it. Its own parent-death signal takes it down with the coordinator, and its
//! children's take them down with it.
//!
//! Two sides, one binary: [`client`] runs in the coordinator, [`server`] in
//! `netsweep-worker --fork-server`. They talk over a `SOCK_SEQPACKET` socket pair, one message
//! per request or notice:
//! - coordinator → server: `S`, then the known_hosts path the sweep uses if known, with the new
//!   worker's stdin, stdout and stderr as `SCM_RIGHTS` (the server reads that file before it
//!   forks, so workers inherit it parsed); or `P`, then the sweep's parse plan as JSON (the
//!   server compiles those templates before its next fork; no answer);
//! - server → coordinator: 12-byte notices (ready, spawned, fork failed, exited, killed),
//!   defined in [`notice`].

mod client;
mod notice;
mod server;

pub use client::ForkServerError;
pub(crate) use client::{ExitBoard, ForkServer};
pub(crate) use server::serve;

use nix::errno::Errno;

/// The argument that makes `netsweep-worker` a fork server.
pub(crate) const FORK_SERVER_ARG: &str = "--fork-server";

/// Longest request: `S` and a path, or `P` and a parse plan.
const MAX_REQUEST: usize = 64 * 1024;

/// Request: fork a worker.
const SPAWN: u8 = b'S';
/// Request: compile a parse plan.
const PREPARE_PARSE: u8 = b'P';

/// The errno behind an I/O error (EIO if it has none).
fn errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}
