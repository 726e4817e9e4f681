//! `netsweep-sim`: serves a simulated fleet of SSH devices on loopback (see `netsweep_sim::cli`).

fn main() -> std::process::ExitCode {
    netsweep_sim::cli::main()
}
