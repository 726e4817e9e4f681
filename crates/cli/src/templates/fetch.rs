//! `netsweep templates fetch`: an ntc-templates release from a Python package index into
//! netsweep's data directory, where template discovery finds it.
//!
//! The index is read through the simple API every index speaks (PyPI, devpi, Artifactory,
//! Nexus): the JSON form (PEP 691) when offered, the HTML form (PEP 503) otherwise; both
//! publish each file's sha256, and a download that does not match is never unpacked. The
//! source distribution is used, not the wheel, because it is a gzip'd tar (no zip reader
//! needed) and holds the same `ntc_templates/templates/` folder.
//!
//! Must not: run Python or anything from the package, unpack anything but the flat templates
//! folder, or leave a half-written directory where discovery would pick it up (the new
//! templates are unpacked beside the old and swapped in by rename).

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

use crate::ExitStatus;
use crate::args::TemplatesFetchArgs;

/// The release netsweep's parser is measured and tested against (ntc-templates' own fixtures
/// in the shared data are from it).
pub(crate) const PINNED_VERSION: &str = "9.3.0";

/// That release's sdist digest, as PyPI published it: checked even when an index (or an
/// `--archive` carried by hand) offers something else under the same name.
const PINNED_SHA256: &str = "2045d20839b5892152637b7c22893923c9a57b6c3e92771fc976f473d0fb05e3";

const PROJECT: &str = "ntc-templates";
const DEFAULT_INDEX: &str = "https://pypi.org/simple";
/// Folder of the package that holds the templates and their `index`.
const TEMPLATES_IN_PACKAGE: [&str; 2] = ["ntc_templates", "templates"];
/// The sdist is about 330 kB; a response far beyond that is not what was asked for.
const MAX_DOWNLOAD: u64 = 64 << 20;
const TIMEOUT: Duration = Duration::from_secs(120);
/// Written beside the templates: where they came from, for whoever wonders later.
const PROVENANCE_FILE: &str = "fetched.json";

/// One file the index lists for the project.
#[derive(Debug, Clone, PartialEq)]
struct IndexedFile {
    filename: String,
    url: String,
    sha256: Option<String>,
}

/// `netsweep templates fetch`.
pub(crate) fn fetch(args: &TemplatesFetchArgs) -> anyhow::Result<ExitStatus> {
    let dest = match &args.into {
        Some(dir) => dir.clone(),
        None => super::data_templates_dir()
            .context("no data directory: neither XDG_DATA_HOME nor HOME is set; give --into DIR")?,
    };
    let (version, archive, sha256, from) = match &args.archive {
        Some(path) => {
            let version = match &args.version {
                Some(v) => v.clone(),
                None => version_of_sdist(path)?,
            };
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let expected = match (&args.sha256, version == PINNED_VERSION) {
                (Some(hex), _) => hex.to_ascii_lowercase(),
                (None, true) => PINNED_SHA256.to_string(),
                (None, false) => bail!(
                    "{}: ntc-templates {version} is not the pinned release ({PINNED_VERSION}), so \
                     netsweep does not know its digest; give the one the index publishes with \
                     --sha256",
                    path.display()
                ),
            };
            let sha256 = check_digest(&bytes, &expected, &path.display().to_string())?;
            (version, bytes, sha256, path.display().to_string())
        }
        None => {
            let version = args
                .version
                .clone()
                .unwrap_or_else(|| PINNED_VERSION.to_string());
            let index = args
                .index_url
                .clone()
                .or_else(|| {
                    std::env::var("PIP_INDEX_URL")
                        .ok()
                        .filter(|u| !u.is_empty())
                })
                .unwrap_or_else(|| DEFAULT_INDEX.to_string());
            let (bytes, sha256, url) = download(&index, &version)?;
            (version, bytes, sha256, url)
        }
    };
    let count = install(&archive, &dest, &Provenance::new(&version, &sha256, &from))?;
    eprintln!(
        "ntc-templates {version}: {count} templates and their index in {} (sha256 {}, from {from})",
        dest.display(),
        &sha256[..16]
    );
    Ok(ExitStatus::Ok)
}

/// The sdist of `version` from the index at `index`: its bytes, checked digest and URL.
fn download(index: &str, version: &str) -> anyhow::Result<(Vec<u8>, String, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .user_agent(concat!("netsweep/", env!("CARGO_PKG_VERSION")))
        // The system's CA store, as curl and pip use it: a site CA or an inspecting proxy
        // that works for them works here.
        .tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::NativeTls)
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .into();
    let page = format!("{}/{PROJECT}/", index.trim_end_matches('/'));
    let mut response = agent
        .get(&page)
        .header(
            "Accept",
            "application/vnd.pypi.simple.v1+json, text/html;q=0.1",
        )
        .call()
        .with_context(|| format!("cannot read the package index at {page}"))?;
    let json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    let body = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("cannot read the package index at {page}"))?;
    let files = if json {
        files_from_json(&body).with_context(|| format!("{page}: not a simple-API project page"))?
    } else {
        files_from_html(&body)
    };
    let wanted = sdist_names(version);
    let Some(file) = files.iter().find(|f| wanted.contains(&f.filename)) else {
        let mut versions: Vec<String> = files
            .iter()
            .filter_map(|f| sdist_version(&f.filename))
            .collect();
        versions.dedup();
        let recent = versions.len().saturating_sub(8);
        bail!(
            "ntc-templates {version} is not on {index}; the latest releases there: {}",
            if versions.is_empty() {
                "none".to_string()
            } else {
                versions[recent..].join(", ")
            }
        );
    };
    let Some(published) = &file.sha256 else {
        bail!(
            "{page}: no sha256 published for {}; refusing to unpack an unchecked download",
            file.filename
        );
    };
    if version == PINNED_VERSION && !published.eq_ignore_ascii_case(PINNED_SHA256) {
        bail!(
            "{page}: publishes sha256 {published} for {}, but that release's digest is \
             {PINNED_SHA256}; refusing (a tampered index or mirror?)",
            file.filename
        );
    }
    let url = join_url(&page, &file.url);
    let mut bytes = Vec::new();
    agent
        .get(&url)
        .call()
        .and_then(|mut r| {
            r.body_mut()
                .with_config()
                .limit(MAX_DOWNLOAD)
                .reader()
                .read_to_end(&mut bytes)
                .map_err(ureq::Error::from)
        })
        .with_context(|| format!("cannot download {url}"))?;
    let sha256 = check_digest(&bytes, published, &url)?;
    Ok((bytes, sha256, url))
}

/// The digest of `bytes` when it is `expected`; an error naming both otherwise.
fn check_digest(bytes: &[u8], expected: &str, what: &str) -> anyhow::Result<String> {
    let actual = format!("{:x}", Sha256::digest(bytes));
    if !actual.eq_ignore_ascii_case(expected.trim()) {
        bail!(
            "{what}: sha256 is {actual}, the index publishes {}; nothing was unpacked",
            expected.trim()
        );
    }
    Ok(actual)
}

/// The file names the sdist of `version` has had (older releases used the dash).
fn sdist_names(version: &str) -> [String; 2] {
    [
        format!("ntc_templates-{version}.tar.gz"),
        format!("ntc-templates-{version}.tar.gz"),
    ]
}

fn sdist_version(filename: &str) -> Option<String> {
    let rest = filename
        .strip_prefix("ntc_templates-")
        .or_else(|| filename.strip_prefix("ntc-templates-"))?;
    Some(rest.strip_suffix(".tar.gz")?.to_string())
}

fn version_of_sdist(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(sdist_version)
        .with_context(|| {
            format!(
                "{}: not named ntc_templates-VERSION.tar.gz; give the VERSION",
                path.display()
            )
        })
}

/// PEP 691: `{"files": [{"filename", "url", "hashes": {"sha256": …}}]}`.
fn files_from_json(body: &str) -> anyhow::Result<Vec<IndexedFile>> {
    #[derive(Deserialize)]
    struct Page {
        files: Vec<File>,
    }
    #[derive(Deserialize)]
    struct File {
        filename: String,
        url: String,
        #[serde(default)]
        hashes: std::collections::BTreeMap<String, String>,
    }
    let page: Page = serde_json::from_str(body)?;
    Ok(page
        .files
        .into_iter()
        .map(|f| IndexedFile {
            sha256: f.hashes.get("sha256").cloned(),
            filename: f.filename,
            url: f.url,
        })
        .collect())
}

/// PEP 503: one `<a href="URL#sha256=HEX">FILENAME</a>` per file; the file name is taken from
/// the URL's last segment, as pip does, so the anchor text's markup does not matter.
fn files_from_html(body: &str) -> Vec<IndexedFile> {
    let mut files = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find("href=\"") {
        rest = &rest[at + 6..];
        let Some(end) = rest.find('"') else { break };
        let href = rest[..end].replace("&amp;", "&");
        rest = &rest[end..];
        let (url, fragment) = href.split_once('#').unwrap_or((&href, ""));
        let filename = url.rsplit('/').next().unwrap_or(url).to_string();
        let sha256 = fragment.strip_prefix("sha256=").map(str::to_string);
        files.push(IndexedFile {
            filename,
            url: url.to_string(),
            sha256,
        });
    }
    files
}

/// `href` resolved against the page it was found on (absolute, host-relative, or relative with
/// `..` segments: mirrors use all three).
fn join_url(base: &str, href: &str) -> String {
    if href.contains("://") {
        return href.to_string();
    }
    let (scheme, after) = base.split_once("://").unwrap_or(("https", base));
    if let Some(rest) = href.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
    let mut segments: Vec<&str> = if href.starts_with('/') {
        Vec::new()
    } else {
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for segment in href.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = if href.ends_with('/') { "/" } else { "" };
    format!("{scheme}://{host}/{}{trailing}", segments.join("/"))
}

#[derive(serde::Serialize)]
struct Provenance<'a> {
    project: &'static str,
    version: &'a str,
    sha256: &'a str,
    from: &'a str,
}

impl<'a> Provenance<'a> {
    fn new(version: &'a str, sha256: &'a str, from: &'a str) -> Self {
        Provenance {
            project: PROJECT,
            version,
            sha256,
            from,
        }
    }
}

/// Unpacks the templates folder of the sdist `archive` into `dest`, replacing what is there;
/// the number of templates.
fn install(archive: &[u8], dest: &Path, provenance: &Provenance) -> anyhow::Result<usize> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".ntc-templates.new.")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
    let count = unpack_templates(archive, staging.path())?;
    std::fs::write(
        staging.path().join(PROVENANCE_FILE),
        serde_json::to_vec_pretty(provenance)?,
    )?;
    let staged = staging.keep();
    let old = parent.join(format!(".ntc-templates.old.{}", std::process::id()));
    let had_old = dest.exists();
    if had_old {
        std::fs::rename(dest, &old)
            .with_context(|| format!("cannot move the old {} aside", dest.display()))?;
    }
    if let Err(e) = std::fs::rename(&staged, dest) {
        if had_old {
            let _ = std::fs::rename(&old, dest);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e)
            .with_context(|| format!("cannot move the templates into {}", dest.display()));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(count)
}

/// Writes the regular files directly under `<top>/ntc_templates/templates/` into `into`; the
/// number of `.textfsm` files. Anything else in the archive is skipped; a path that climbs
/// (`..`) or is absolute is refused, since only a crafted archive has one.
fn unpack_templates(archive: &[u8], into: &Path) -> anyhow::Result<usize> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut templates = 0;
    let mut has_index = false;
    for entry in tar.entries().context("not a gzip'd tar archive")? {
        let mut entry = entry.context("a damaged archive")?;
        let path = entry.path().context("a damaged archive")?.into_owned();
        let mut names = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(n) => names.push(n.to_string_lossy().into_owned()),
                Component::CurDir => {}
                _ => bail!(
                    "the archive has an unsafe path {}; refusing it",
                    path.display()
                ),
            }
        }
        let [_top, package, folder, name] = names.as_slice() else {
            continue;
        };
        if [package.as_str(), folder.as_str()] != TEMPLATES_IN_PACKAGE
            || !entry.header().entry_type().is_file()
        {
            continue;
        }
        let target: PathBuf = into.join(name);
        let mut out = std::fs::File::create(&target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        std::io::copy(&mut entry, &mut out)
            .with_context(|| format!("cannot write {}", target.display()))?;
        has_index |= name == "index";
        templates += usize::from(name.ends_with(".textfsm"));
    }
    if !has_index {
        bail!(
            "the archive has no {}/index: not an ntc-templates release",
            TEMPLATES_IN_PACKAGE.join("/")
        );
    }
    Ok(templates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_resolve_as_a_browser_resolves_them() {
        let page = "https://pypi.org/simple/ntc-templates/";
        assert_eq!(
            join_url(page, "https://files.example/p/a.tar.gz"),
            "https://files.example/p/a.tar.gz"
        );
        assert_eq!(
            join_url(page, "../../packages/ab/a.tar.gz"),
            "https://pypi.org/packages/ab/a.tar.gz"
        );
        assert_eq!(
            join_url(page, "/files/a.tar.gz"),
            "https://pypi.org/files/a.tar.gz"
        );
        assert_eq!(
            join_url(page, "a.tar.gz"),
            "https://pypi.org/simple/ntc-templates/a.tar.gz"
        );
        assert_eq!(
            join_url("http://127.0.0.1:8080/simple/x/", "//h/a"),
            "http://h/a"
        );
    }

    #[test]
    fn html_pages_give_names_urls_and_digests() {
        let page = r#"<html><body>
<a href="https://f.example/x/ntc_templates-9.3.0.tar.gz#sha256=ABC">ntc_templates-9.3.0.tar.gz</a><br/>
<a href="../y/ntc_templates-9.3.0-py3-none-any.whl" data-requires-python="&gt;=3.10">w</a>
</body></html>"#;
        assert_eq!(
            files_from_html(page),
            vec![
                IndexedFile {
                    filename: "ntc_templates-9.3.0.tar.gz".into(),
                    url: "https://f.example/x/ntc_templates-9.3.0.tar.gz".into(),
                    sha256: Some("ABC".into()),
                },
                IndexedFile {
                    filename: "ntc_templates-9.3.0-py3-none-any.whl".into(),
                    url: "../y/ntc_templates-9.3.0-py3-none-any.whl".into(),
                    sha256: None,
                },
            ]
        );
    }

    #[test]
    fn sdist_versions_are_read_from_both_spellings() {
        assert_eq!(
            sdist_version("ntc_templates-9.3.0.tar.gz").as_deref(),
            Some("9.3.0")
        );
        assert_eq!(
            sdist_version("ntc-templates-1.0.0.tar.gz").as_deref(),
            Some("1.0.0")
        );
        assert_eq!(sdist_version("ntc_templates-9.3.0-py3-none-any.whl"), None);
    }

    fn archive_with(paths: &[&str]) -> Vec<u8> {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for path in paths {
            let body = b"x";
            let mut header = tar::Header::new_gnu();
            // Written raw: the builder itself refuses `..`, a crafted archive does not.
            let name = &mut header.as_gnu_mut().unwrap().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            tar.append(&header, &body[..]).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn only_the_flat_templates_folder_is_unpacked_and_climbing_paths_are_refused() {
        let into = tempfile::tempdir().unwrap();
        let count = unpack_templates(
            &archive_with(&[
                "t-1/ntc_templates/templates/index",
                "t-1/ntc_templates/templates/a.textfsm",
                "t-1/ntc_templates/templates/sub/b.textfsm",
                "t-1/ntc_templates/__init__.py",
            ]),
            into.path(),
        )
        .unwrap();
        assert_eq!(count, 1);
        assert!(into.path().join("a.textfsm").is_file());
        assert!(!into.path().join("sub").exists());

        let climbing = archive_with(&[
            "t-1/ntc_templates/templates/index",
            "t-1/ntc_templates/templates/../../../../evil",
        ]);
        let err = unpack_templates(&climbing, into.path()).unwrap_err();
        assert!(err.to_string().contains("unsafe path"), "{err}");

        let not_templates = archive_with(&["t-1/README.md"]);
        let err = unpack_templates(&not_templates, into.path()).unwrap_err();
        assert!(
            err.to_string().contains("not an ntc-templates release"),
            "{err}"
        );
    }
}
