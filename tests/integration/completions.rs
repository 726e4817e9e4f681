//! `netsweep completions` / `netsweep man` and the same for `netsweep-sim`: the real binaries'
//! output, checked by bash itself (syntax, and its completion function driven as the shell
//! drives it on Tab) and against the subcommands clap knows.

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;

use crate::harness::bin;

/// Runs a binary with `args`, expecting success, and returns its stdout.
fn stdout_of(binary: &str, args: &[&str]) -> String {
    let output = Command::new(bin(binary))
        .args(args)
        .output()
        .expect("run the binary");
    assert!(output.status.success(), "{binary} {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// What bash offers on Tab after `words` (the last one being completed), with the completion
/// script of `binary` loaded: the function `complete -p` names is called the way readline
/// calls it, with COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT set.
fn bash_completes(binary: &str, script: &Path, words: &[&str]) -> Vec<String> {
    let driver = r#"
set -u
source "$1"
shift
spec=$(complete -p "$1")
function=${spec#*-F }
function=${function%% *}
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
"$function" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let output = Command::new("bash")
        .arg("-c")
        .arg(driver)
        .arg("bash")
        .arg(script)
        .arg(binary)
        .args(&words[1..])
        .output()
        .expect("run bash");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn bash_script(binary: &str) -> tempfile::NamedTempFile {
    let script = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(script.path(), stdout_of(binary, &["completions", "bash"])).expect("write");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(script.path())
        .output()
        .expect("run bash -n");
    assert!(syntax.status.success(), "bash -n: {syntax:?}");
    script
}

#[test]
fn bash_completes_netsweep_run_po_to_pool() {
    let script = bash_script("netsweep");
    assert_eq!(
        bash_completes("netsweep", script.path(), &["netsweep", "run", "--po"]),
        ["--pool"]
    );
    // Subcommands, and a flag's values.
    let subcommands = bash_completes("netsweep", script.path(), &["netsweep", "re"]);
    assert_eq!(subcommands, ["report"]);
    let pools = bash_completes(
        "netsweep",
        script.path(),
        &["netsweep", "run", "--pool", ""],
    );
    assert_eq!(pools, ["processes", "threads"]);
}

#[test]
fn bash_completes_netsweep_sim_flags() {
    let script = bash_script("netsweep-sim");
    assert_eq!(
        bash_completes("netsweep-sim", script.path(), &["netsweep-sim", "--fau"]),
        ["--faults"]
    );
}

#[test]
fn every_shell_gets_a_script_naming_the_flags() {
    for binary in ["netsweep", "netsweep-sim"] {
        for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
            let script = stdout_of(binary, &["completions", shell]);
            let flag = if binary == "netsweep" {
                "pool"
            } else {
                "faults"
            };
            assert!(script.contains(flag), "{binary} {shell}:\n{script}");
        }
    }
}

#[test]
fn the_man_page_names_every_subcommand() {
    let page = stdout_of("netsweep", &["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH netsweep 1"),
        "{page}"
    );
    assert!(page.contains(".TH netsweep 1"), "{page}");
    let cli = netsweep_cli::args::Cli::command();
    let names: Vec<&str> = cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name())
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        assert!(
            page.contains(&format!("netsweep\\-{name}(1)")),
            "`{name}` missing from:\n{page}"
        );
    }
}

#[test]
fn man_out_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_arg = dir.path().to_str().expect("UTF-8 path");
    stdout_of("netsweep", &["man", "--out-dir", dir_arg]);
    for page in [
        "netsweep.1",
        "netsweep-run.1",
        "netsweep-report.1",
        "netsweep-compare.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let run = std::fs::read_to_string(dir.path().join("netsweep-run.1")).expect("read");
    assert!(run.contains("\\-\\-pool"), "{run}");
}

#[test]
fn the_simulator_has_a_man_page_with_its_flags() {
    let page = stdout_of("netsweep-sim", &["man"]);
    assert!(page.contains(".TH netsweep-sim 1"), "{page}");
    for flag in ["\\-\\-count", "\\-\\-faults", "\\-\\-write\\-inventory"] {
        assert!(page.contains(flag), "{flag} missing from:\n{page}");
    }
    assert!(page.contains("netsweep\\-sim\\-completions(1)"), "{page}");
}
