//! `netsweep templates fetch` against a package index served on loopback by the test (the
//! simple API in its JSON and HTML forms, a release archive built here): only the templates
//! are unpacked, the digest is checked, a failed fetch keeps the templates already there.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::harness::{Finished, run_with_limit, write_file};
use crate::parse::{SHOW_VERSION, netsweep, templates};

const LIMIT: Duration = Duration::from_secs(30);
/// The index stops by itself after this, whatever the test does.
const SERVE_FOR: Duration = Duration::from_secs(60);

/// An ntc-templates-shaped sdist: the templates folder, and files beside it that must not be
/// unpacked.
fn release_archive(version: &str) -> Vec<u8> {
    let src = tempfile::tempdir().unwrap();
    templates(src.path());
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let top = format!("ntc_templates-{version}");
    for name in ["index", "acme_show_version.textfsm"] {
        tar.append_path_with_name(
            src.path().join(name),
            format!("{top}/ntc_templates/templates/{name}"),
        )
        .unwrap();
    }
    let other = write_file(src.path(), "__init__.py", "raise SystemExit('not run')\n");
    tar.append_path_with_name(&other, format!("{top}/ntc_templates/__init__.py"))
        .unwrap();
    tar.append_path_with_name(&other, format!("{top}/README.md"))
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A package index on 127.0.0.1: each path answers with a fixed content type and body.
struct Index {
    base: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Index {
    fn serve(routes: Vec<(String, &'static str, Vec<u8>)>) -> Index {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let until = Instant::now() + SERVE_FOR;
            while !stopping.load(Ordering::Relaxed) && Instant::now() < until {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split(' ').nth(1).unwrap_or("").to_string();
                let mut stream = reader.into_inner();
                let (status, kind, body): (&str, &str, &[u8]) =
                    match routes.iter().find(|(p, _, _)| *p == path) {
                        Some((_, kind, body)) => ("200 OK", kind, body),
                        None => ("404 Not Found", "text/plain", b"not found"),
                    };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(body);
            }
        });
        Index {
            base,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const JSON: &str = "application/vnd.pypi.simple.v1+json";
const HTML: &str = "text/html";
const ARCHIVE: &str = "application/octet-stream";

/// An index listing releases 1.0.0 and 1.2.3, 1.2.3 published with `published_sha` and its
/// archive at a relative URL, as some mirrors write them.
fn index_with(archive: &[u8], published_sha: &str, kind: &'static str) -> Index {
    let listing = |name: &str, sha: &str| (name.to_string(), sha.to_string());
    let files = [
        listing("ntc_templates-1.0.0.tar.gz", &"0".repeat(64)),
        listing("ntc_templates-1.2.3.tar.gz", published_sha),
    ];
    let page = if kind == JSON {
        let files: Vec<_> = files
            .iter()
            .map(|(name, sha)| {
                serde_json::json!({
                    "filename": name,
                    "url": format!("../../files/{name}"),
                    "hashes": {"sha256": sha},
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({"meta": {"api-version": "1.0"}, "name": "ntc-templates", "files": files})).unwrap()
    } else {
        let mut html = String::from("<!DOCTYPE html><html><body>\n");
        for (name, sha) in &files {
            html.push_str(&format!(
                "<a href=\"/files/{name}#sha256={sha}\">{name}</a><br/>\n"
            ));
        }
        html.into_bytes()
    };
    Index::serve(vec![
        ("/simple/ntc-templates/".into(), kind, page),
        (
            "/files/ntc_templates-1.2.3.tar.gz".into(),
            ARCHIVE,
            archive.to_vec(),
        ),
    ])
}

fn fetch(home: &Path, index: &Index, extra: &[&str]) -> Finished {
    let url = format!("{}/simple", index.base);
    let mut args = vec!["templates", "fetch", "--index-url", url.as_str()];
    args.extend_from_slice(extra);
    run_with_limit(netsweep(home, &args), LIMIT)
}

fn data_templates(home: &Path) -> std::path::PathBuf {
    home.join("data/netsweep/ntc-templates")
}

#[test]
fn fetch_unpacks_only_the_templates_and_parse_then_finds_them() {
    let home = tempfile::tempdir().unwrap();
    let archive = release_archive("1.2.3");
    let index = index_with(&archive, &sha256_hex(&archive), JSON);
    let done = fetch(home.path(), &index, &["1.2.3"]);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert!(
        done.stderr.contains("ntc-templates 1.2.3: 1 templates"),
        "{}",
        done.stderr
    );

    let dir = data_templates(home.path());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["acme_show_version.textfsm", "fetched.json", "index"],
        "only the templates folder is unpacked"
    );
    let provenance: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("fetched.json")).unwrap()).unwrap();
    assert_eq!(provenance["version"], "1.2.3");
    assert_eq!(provenance["sha256"], sha256_hex(&archive));

    // Discovery finds the data directory without being told.
    let input = write_file(home.path(), "sh_ver.txt", SHOW_VERSION);
    let parsed = run_with_limit(
        netsweep(
            home.path(),
            &[
                "parse",
                "--platform",
                "acme_ios",
                "--command",
                "show version",
                input.to_str().unwrap(),
            ],
        ),
        LIMIT,
    );
    assert_eq!(parsed.code(), Some(0), "{}", parsed.stderr);
    assert!(parsed.stdout.contains("FOC1234X0AB"), "{}", parsed.stdout);
}

#[test]
fn a_digest_that_does_not_match_unpacks_nothing_and_keeps_the_old_templates() {
    let home = tempfile::tempdir().unwrap();
    let old = data_templates(home.path());
    std::fs::create_dir_all(&old).unwrap();
    write_file(&old, "index", "the old index\n");
    let archive = release_archive("1.2.3");
    let index = index_with(&archive, &"ab".repeat(32), HTML);
    let done = fetch(home.path(), &index, &["1.2.3"]);
    assert_ne!(done.code(), Some(0));
    assert!(
        done.stderr
            .contains(&format!("sha256 is {}", sha256_hex(&archive)))
            && done.stderr.contains("nothing was unpacked"),
        "{}",
        done.stderr
    );
    assert_eq!(
        std::fs::read_to_string(old.join("index")).unwrap(),
        "the old index\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(old.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["ntc-templates"], "no staging directory left");
}

#[test]
fn a_release_the_index_does_not_have_names_the_ones_it_has() {
    let home = tempfile::tempdir().unwrap();
    let archive = release_archive("1.2.3");
    let index = index_with(&archive, &sha256_hex(&archive), HTML);
    let done = fetch(home.path(), &index, &["7.7.7"]);
    assert_ne!(done.code(), Some(0));
    assert!(
        done.stderr.contains("ntc-templates 7.7.7 is not on")
            && done.stderr.contains("1.0.0, 1.2.3"),
        "{}",
        done.stderr
    );
    assert!(!data_templates(home.path()).exists());
}

#[test]
fn an_offline_archive_of_the_pinned_release_is_checked_against_the_built_in_digest() {
    let home = tempfile::tempdir().unwrap();
    // Named as the pinned release, but not its content.
    let archive = release_archive("9.3.0");
    let path = home.path().join("ntc_templates-9.3.0.tar.gz");
    std::fs::write(&path, &archive).unwrap();
    let refused = run_with_limit(
        netsweep(
            home.path(),
            &["templates", "fetch", "--archive", path.to_str().unwrap()],
        ),
        LIMIT,
    );
    assert_ne!(refused.code(), Some(0));
    assert!(
        refused.stderr.contains("nothing was unpacked"),
        "{}",
        refused.stderr
    );
    assert!(!data_templates(home.path()).exists());

    // Any other release carried by hand needs its digest given.
    let other = home.path().join("ntc_templates-1.2.3.tar.gz");
    std::fs::write(&other, release_archive("1.2.3")).unwrap();
    let other_arg = other.to_str().unwrap();
    let unknown = run_with_limit(
        netsweep(home.path(), &["templates", "fetch", "--archive", other_arg]),
        LIMIT,
    );
    assert!(unknown.stderr.contains("--sha256"), "{}", unknown.stderr);
    let sha = sha256_hex(&std::fs::read(&other).unwrap());
    let done = run_with_limit(
        netsweep(
            home.path(),
            &[
                "templates",
                "fetch",
                "--archive",
                other_arg,
                "--sha256",
                &sha,
            ],
        ),
        LIMIT,
    );
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert!(data_templates(home.path()).join("index").is_file());
}
