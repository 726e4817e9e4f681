//! `netsweep`: the coordinator. All of it lives in `netsweep-cli`.

fn main() -> std::process::ExitCode {
    netsweep_cli::main()
}
