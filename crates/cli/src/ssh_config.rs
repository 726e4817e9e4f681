//! OpenSSH client configuration (`~/.ssh/config` or `--ssh-config FILE`), read by the
//! coordinator and resolved into each job, so that workers (forked with a cleared
//! environment) never read `~/.ssh` themselves.
//!
//! Precedence, strongest first: the command line, the inventory entry, its `defaults:`, then
//! ssh_config; within ssh_config the first value found wins, as in OpenSSH. Directives read:
//! `Host` (patterns, `!` negation), `HostName`, `User` (jump hosts only: an entry always has a
//! username), `Port` (where the entry leaves the default 22), `IdentityFile`, `CertificateFile`,
//! `ProxyJump`, `ConnectTimeout`, `KexAlgorithms`/`HostKeyAlgorithms`/`Ciphers`/`MACs` (with
//! `+`, `-`, `^`), `StrictHostKeyChecking`, `UserKnownHostsFile`, `Include`. Directives that
//! would change where or how a device is reached and that netsweep cannot honour (`Match`,
//! `ProxyCommand`, …) are an error naming file and line when they apply to a swept device;
//! other directives (`ServerAliveInterval`, `ForwardAgent`, …) do not matter to a sweep and
//! are skipped.
//!
//! This module must not log credentials (it holds none: ssh_config has no passwords).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netsweep_protocol::{AlgorithmList, HostKeyPolicy, Job, JumpHost, parse_hop, wildcard_match};
use thiserror::Error;

/// A problem with the ssh_config file, located.
#[derive(Debug, Error)]
pub enum SshConfigError {
    /// The file (or an included one) cannot be read.
    #[error("cannot read ssh_config {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A directive's value is unusable, or the directive cannot be honoured for a device.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong, naming the directive.
        message: String,
    },
}

/// Directives that change where or how a connection goes and that netsweep cannot honour.
const REFUSED: &[&str] = &[
    "proxycommand",
    "proxyusefdpass",
    "hostkeyalias",
    "knownhostscommand",
    "bindaddress",
    "bindinterface",
];

/// One directive line, with the `Host` patterns in force where it was written.
#[derive(Clone, Debug)]
struct Directive {
    patterns: Vec<String>,
    keyword: String,
    value: String,
    path: PathBuf,
    line: usize,
}

/// A parsed ssh_config, `Include`s expanded in place.
#[derive(Debug, Default)]
pub struct SshConfig {
    directives: Vec<Directive>,
}

/// What ssh_config says for one host name; `None` where it says nothing.
#[derive(Debug, Default, PartialEq)]
pub struct HostSettings {
    host_name: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_file: Option<PathBuf>,
    certificate_file: Option<PathBuf>,
    proxy_jump: Option<Vec<String>>,
    connect_timeout: Option<Duration>,
    kex: Option<AlgorithmList>,
    host_key: Option<AlgorithmList>,
    ciphers: Option<AlgorithmList>,
    macs: Option<AlgorithmList>,
    strict_host_key_checking: Option<HostKeyPolicy>,
    user_known_hosts_file: Option<PathBuf>,
}

impl SshConfig {
    /// Reads `path` and what it includes. `home` expands `~` and is where relative `Include`
    /// paths start (`~/.ssh`), as in OpenSSH.
    pub fn read(path: &Path, home: Option<&Path>) -> Result<SshConfig, SshConfigError> {
        let mut config = SshConfig::default();
        config.read_file(path, home, &mut Vec::new(), 0)?;
        Ok(config)
    }

    fn read_file(
        &mut self,
        path: &Path,
        home: Option<&Path>,
        patterns: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), SshConfigError> {
        let text = fs::read_to_string(path).map_err(|source| SshConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |line: usize, message: String| SshConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        // Included files start matching all hosts again only if they say `Host`: they
        // inherit the block they are included from, as in OpenSSH.
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let Some((keyword, value)) = split_directive(raw) else {
                continue;
            };
            match keyword.as_str() {
                "host" => {
                    *patterns = value.split_whitespace().map(str::to_string).collect();
                }
                "match" => {
                    // The block's directives are kept under a pattern nothing matches, and
                    // reported if the block could apply (see `settings_for`).
                    *patterns = vec!["\0match".into()];
                    self.directives.push(Directive {
                        patterns: Vec::new(),
                        keyword,
                        value,
                        path: path.to_path_buf(),
                        line,
                    });
                }
                "include" => {
                    if depth >= 16 {
                        return Err(invalid(line, "Include nested more than 16 deep".into()));
                    }
                    for item in value.split_whitespace() {
                        for file in include_files(item, home) {
                            self.read_file(&file, home, patterns, depth + 1)?;
                        }
                    }
                }
                _ => self.directives.push(Directive {
                    patterns: patterns.clone(),
                    keyword,
                    value,
                    path: path.to_path_buf(),
                    line,
                }),
            }
        }
        Ok(())
    }

    /// The settings for `host` (first value wins), or the first directive netsweep cannot
    /// honour that applies to it.
    pub fn settings_for(
        &self,
        host: &str,
        home: Option<&Path>,
    ) -> Result<HostSettings, SshConfigError> {
        let mut s = HostSettings::default();
        for d in &self.directives {
            let invalid = |message: String| SshConfigError::Invalid {
                path: d.path.clone(),
                line: d.line,
                message,
            };
            if d.keyword == "match" {
                return Err(invalid(format!(
                    "`Match {}`: netsweep does not evaluate Match blocks; use Host patterns",
                    d.value
                )));
            }
            if !host_matches(&d.patterns, host) {
                continue;
            }
            let v = d.value.as_str();
            let algorithms = |list: &mut Option<AlgorithmList>| -> Result<(), SshConfigError> {
                if list.is_none() {
                    *list = Some(
                        AlgorithmList::parse(v)
                            .map_err(|e| invalid(format!("{}: {e}", d.keyword)))?,
                    );
                }
                Ok(())
            };
            match d.keyword.as_str() {
                "hostname" => {
                    s.host_name
                        .get_or_insert_with(|| v.replace("%h", host).replace("%%", "%"));
                }
                "user" => {
                    s.user.get_or_insert_with(|| v.to_string());
                }
                "port" if s.port.is_none() => {
                    let port = v.parse::<u16>().ok().filter(|p| *p > 0);
                    s.port = Some(port.ok_or_else(|| {
                        invalid(format!("Port `{v}` is not a port number (1 to 65535)"))
                    })?);
                }
                "identityfile" => {
                    s.identity_file.get_or_insert_with(|| expand_home(v, home));
                }
                "certificatefile" => {
                    s.certificate_file
                        .get_or_insert_with(|| expand_home(v, home));
                }
                "proxyjump" => {
                    s.proxy_jump.get_or_insert_with(|| {
                        if v.eq_ignore_ascii_case("none") {
                            Vec::new()
                        } else {
                            v.split(',').map(|h| h.trim().to_string()).collect()
                        }
                    });
                }
                "connecttimeout" if s.connect_timeout.is_none() => {
                    let secs = v.parse::<u64>().ok().filter(|s| *s > 0);
                    s.connect_timeout = Some(Duration::from_secs(secs.ok_or_else(|| {
                        invalid(format!("ConnectTimeout `{v}` is not a number of seconds"))
                    })?));
                }
                "kexalgorithms" => algorithms(&mut s.kex)?,
                "hostkeyalgorithms" => algorithms(&mut s.host_key)?,
                "ciphers" => algorithms(&mut s.ciphers)?,
                "macs" => algorithms(&mut s.macs)?,
                "stricthostkeychecking" if s.strict_host_key_checking.is_none() => {
                    s.strict_host_key_checking = Some(match v.to_ascii_lowercase().as_str() {
                        "yes" | "ask" => HostKeyPolicy::Strict,
                        "accept-new" => HostKeyPolicy::AcceptNew,
                        "no" | "off" => HostKeyPolicy::Off,
                        _ => {
                            return Err(invalid(format!(
                                "StrictHostKeyChecking `{v}`: expected yes, ask, accept-new or no"
                            )));
                        }
                    });
                }
                "userknownhostsfile" => {
                    s.user_known_hosts_file.get_or_insert_with(|| {
                        expand_home(v.split_whitespace().next().unwrap_or(v), home)
                    });
                }
                refused if REFUSED.contains(&refused) => {
                    return Err(invalid(format!(
                        "`{}` applies to `{host}`, and netsweep cannot honour it (jump hosts: \
                         ProxyJump or `jump_host:`); remove it for the swept devices or run with \
                         --no-ssh-config",
                        d.keyword
                    )));
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// Resolves the config into `job` for a device whose inventory entry is `entry_set` (what
    /// the entry or its defaults set explicitly). `cli_connect_timeout` is `Some` when the
    /// command line left the connect timeout at its default (ssh_config may then set it).
    pub fn apply(
        &self,
        job: &mut Job,
        entry: EntrySet,
        cli: CliSet,
        home: Option<&Path>,
    ) -> Result<(), SshConfigError> {
        let alias = job.target.host.clone();
        let s = self.settings_for(&alias, home)?;
        let t = &mut job.target;
        if let Some(name) = s.host_name {
            t.host = name;
        }
        if !entry.port
            && let Some(port) = s.port
        {
            t.port = port;
        }
        if t.key_file.is_none() {
            t.key_file = s.identity_file.filter(|p| p.is_file());
        }
        if t.ssh.certificate_file.is_none() {
            t.ssh.certificate_file = s.certificate_file;
        }
        if !entry.jump_host
            && let Some(hops) = s.proxy_jump
        {
            let mut jumps = Vec::new();
            for hop in hops {
                jumps.push(self.jump_host(&hop, &t.username, home)?);
            }
            t.ssh.jump_hosts = jumps;
        }
        let a = &mut t.ssh.algorithms;
        a.kex = a.kex.take().or(s.kex);
        a.host_key = a.host_key.take().or(s.host_key);
        a.ciphers = a.ciphers.take().or(s.ciphers);
        a.macs = a.macs.take().or(s.macs);
        if !entry.connect_timeout
            && !cli.connect_timeout
            && let Some(timeout) = s.connect_timeout
        {
            job.timeouts.connect = timeout;
        }
        if !cli.host_key_policy
            && let Some(policy) = s.strict_host_key_checking
        {
            job.host_key_policy = policy;
        }
        if !cli.known_hosts
            && let Some(file) = s.user_known_hosts_file
        {
            job.known_hosts = Some(file);
        }
        Ok(())
    }

    /// A ProxyJump hop, itself looked up in the config (HostName, User, Port, IdentityFile),
    /// as OpenSSH does.
    fn jump_host(
        &self,
        hop: &str,
        device_user: &str,
        home: Option<&Path>,
    ) -> Result<JumpHost, SshConfigError> {
        let (user, alias, port) = parse_hop(hop).map_err(|message| {
            let d = self.directives.iter().find(|d| d.keyword == "proxyjump");
            SshConfigError::Invalid {
                path: d.map(|d| d.path.clone()).unwrap_or_default(),
                line: d.map_or(0, |d| d.line),
                message: format!("ProxyJump: {message}"),
            }
        })?;
        let s = self.settings_for(&alias, home)?;
        Ok(JumpHost {
            host: s.host_name.unwrap_or(alias),
            port: port.or(s.port).unwrap_or(22),
            username: user.or(s.user).unwrap_or_else(|| device_user.to_string()),
            password: None,
            key_file: s.identity_file.filter(|p| p.is_file()),
            ssh: netsweep_protocol::SshSettings {
                certificate_file: s.certificate_file,
                algorithms: netsweep_protocol::Algorithms {
                    kex: s.kex,
                    host_key: s.host_key,
                    ciphers: s.ciphers,
                    macs: s.macs,
                    ..Default::default()
                },
                ..Default::default()
            },
        })
    }
}

/// What an inventory entry (or its `defaults:`) set itself, so ssh_config does not override it.
#[derive(Clone, Copy, Debug, Default)]
pub struct EntrySet {
    /// A port other than the default 22 (an entry's `port: 22` counts as unset).
    pub port: bool,
    /// `jump_host:`.
    pub jump_host: bool,
    /// `connect_timeout`.
    pub connect_timeout: bool,
}

/// Which settings the command line gave explicitly.
#[derive(Clone, Copy, Debug, Default)]
pub struct CliSet {
    /// `--connect-timeout` other than its default.
    pub connect_timeout: bool,
    /// `--host-key-policy` other than its default.
    pub host_key_policy: bool,
    /// `--known-hosts`.
    pub known_hosts: bool,
}

/// `Keyword value`, `Keyword=value` or `Keyword = "value"`; `None` for blank and comment lines.
fn split_directive(raw: &str) -> Option<(String, String)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..end].to_ascii_lowercase();
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    let value = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(rest);
    Some((keyword, value.to_string()))
}

/// Whether `host` matches a `Host` line's patterns: any positive one and no negated one. No
/// patterns (before the first `Host`) matches everything.
fn host_matches(patterns: &[String], host: &str) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let mut matched = false;
    for p in patterns {
        if let Some(negated) = p.strip_prefix('!') {
            if wildcard_match(negated, host) {
                return false;
            }
        } else if wildcard_match(p, host) {
            matched = true;
        }
    }
    matched
}

fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The files an `Include` item names: relative to `~/.ssh`, `*` and `?` in the file name.
fn include_files(item: &str, home: Option<&Path>) -> Vec<PathBuf> {
    let path = expand_home(item, home);
    let path = match (path.is_absolute(), home) {
        (false, Some(home)) => home.join(".ssh").join(path),
        _ => path,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return if path.is_file() { vec![path] } else { vec![] };
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, SshConfig) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".ssh")).unwrap();
        fs::write(
            dir.path().join(".ssh/site.conf"),
            "Host core-*\n  Port 2201\n  KexAlgorithms +diffie-hellman-group14-sha1\n",
        )
        .unwrap();
        let path = dir.path().join("config");
        fs::write(&path, text).unwrap();
        let c = SshConfig::read(&path, Some(dir.path())).unwrap();
        (dir, c)
    }

    #[test]
    fn first_value_wins_patterns_negate_and_includes_expand() {
        let (dir, c) = config(
            "# site\nInclude site.conf\nHost core-1\n  HostName 10.1.1.1\n  Port 2299\n\
             Host core-* !core-9\n  User ops\n  ProxyJump jump@bastion:2222,inner\n\
             Host *\n  User nobody\n  ConnectTimeout=7\n  StrictHostKeyChecking accept-new\n\
             Ciphers -aes128-ctr\n",
        );
        let home = Some(dir.path());
        let s = c.settings_for("core-1", home).unwrap();
        assert_eq!(s.host_name.as_deref(), Some("10.1.1.1"));
        assert_eq!(s.port, Some(2201), "the included file came first");
        assert_eq!(s.user.as_deref(), Some("ops"));
        assert_eq!(
            s.proxy_jump,
            Some(vec!["jump@bastion:2222".to_string(), "inner".to_string()])
        );
        assert_eq!(s.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(
            s.kex,
            Some(AlgorithmList::Append(vec![
                "diffie-hellman-group14-sha1".into()
            ]))
        );
        assert_eq!(
            s.ciphers,
            Some(AlgorithmList::Remove(vec!["aes128-ctr".into()]))
        );
        assert_eq!(s.strict_host_key_checking, Some(HostKeyPolicy::AcceptNew));
        let s9 = c.settings_for("core-9", home).unwrap();
        assert_eq!(s9.user.as_deref(), Some("nobody"));
        assert_eq!(s9.proxy_jump, None);
    }

    #[test]
    fn directives_netsweep_cannot_honour_are_errors_where_they_apply() {
        let (dir, c) = config("Host old-*\n  ProxyCommand nc %h %p\nHost *\n  Port 22\n");
        let home = Some(dir.path());
        assert!(c.settings_for("new-1", home).is_ok());
        let e = c.settings_for("old-1", home).unwrap_err().to_string();
        assert!(e.contains("config:2") && e.contains("proxycommand"), "{e}");
        let (dir, c) = config("Host a\n  Port x\n");
        let e = c
            .settings_for("a", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("config:2") && e.contains("Port `x`"), "{e}");
    }
}
