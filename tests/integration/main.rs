//! Integration tests: the real `netsweep`, `netsweep-worker` and `netsweep-sim` binaries (and
//! the pool library driving the real worker binary) against simulated fleets on loopback.
//!
//! One test binary, so the crates link once; helpers live in `harness`.

mod compare;
mod completions;
mod harness;
mod pool_contract;
mod resume;
mod supervision;
mod sweep;
mod test_script;
