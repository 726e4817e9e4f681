//! Integration tests: the real `netsweep`, `netsweep-worker` and `netsweep-sim` binaries (and
//! the pool library driving the real worker binary) against simulated fleets on loopback.
//!
//! One test binary, so the crates link once; helpers live in `harness`.

mod compare;
mod completions;
mod config_change;
mod deploy;
mod harness;
mod pacing;
mod parse;
mod platforms;
mod pool_contract;
mod reach;
mod resume;
mod run_parse;
mod shards;
mod supervision;
mod sweep;
mod telnet;
mod templates_fetch;
mod test_script;
