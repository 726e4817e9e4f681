//! `netsweep-worker`: one device at a time, for the coordinator's process pool.
//!
//! Started by `netsweep run --pool processes`, never by hand: jobs arrive as frames on stdin,
//! results leave as frames on stdout, logs go to stderr. See `netsweep_pool::worker`.

fn main() -> std::process::ExitCode {
    netsweep_pool::worker::main()
}
