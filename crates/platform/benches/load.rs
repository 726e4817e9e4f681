//! What the platform table costs a process: parsing the embedded YAML, compiling one
//! platform's regexes, and matching a prompt. Prints figures; asserts nothing.

#![allow(clippy::print_stdout, missing_docs)]

use std::path::Path;
use std::time::Instant;

use netsweep_platform::{BUILTIN_YAML, PlatformTable, Regexes, builtin};

fn main() {
    let runs = 20;
    let started = Instant::now();
    for _ in 0..runs {
        let table = PlatformTable::default()
            .with_definitions(BUILTIN_YAML, Path::new("platforms.yaml"))
            .expect("the built-in table parses");
        std::hint::black_box(table);
    }
    let parse_and_check = started.elapsed() / runs;

    let ios = builtin()
        .get("cisco_ios")
        .expect("cisco_ios")
        .spec()
        .clone();
    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(Regexes::compile(&ios).expect("compiles"));
    }
    let compile_ios = started.elapsed() / runs;

    let regexes = builtin().get("cisco_ios").unwrap().regexes();
    let lines = [
        "r1#",
        "Building configuration...",
        " description uplink to core-2",
        "r1(config-if)#",
    ];
    let n = 1_000_000;
    let started = Instant::now();
    for i in 0..n {
        std::hint::black_box(regexes.session_prompt(lines[i % lines.len()], "r1"));
    }
    let per_match = started.elapsed() / n as u32;

    let spec = builtin().get("cisco_ios").unwrap().spec();
    let mut patterns: Vec<String> = Vec::new();
    patterns.extend(spec.prompts.user.clone());
    patterns.extend(spec.prompts.privileged.clone());
    patterns.extend(spec.prompts.config.clone());
    patterns.extend(spec.errors.clone());
    patterns.push(spec.enable.as_ref().unwrap().password_prompt.clone());
    patterns.push(spec.pager.as_ref().unwrap().prompt.clone());
    for p in &patterns {
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(
                regex::bytes::RegexBuilder::new(p)
                    .unicode(false)
                    .build()
                    .unwrap(),
            );
        }
        println!("  compile {:?}: {:?}", p, started.elapsed() / runs);
    }
    println!(
        "platform table: parse + validate + compile every regex (user-platform path): {parse_and_check:?}"
    );
    println!("cisco_ios regexes compiled alone (what a worker pays, once): {compile_ios:?}");
    println!("cisco_ios session_prompt on one last line: {per_match:?}");
}
