//! Credentials and key files: `password`/`secret` in their three spellings (literal or
//! `${VAR}`, `*_env`, `*_file`), `key_file`, and paths relative to the inventory.
//!
//! A problem here names the variable or the file, never a value: no credential may reach a
//! problem message.

use std::fs;
use std::path::{Path, PathBuf};

use netsweep_protocol::Secret;

use super::{Field, Reader, is_identifier};
use crate::error::ProblemKind;

impl Reader<'_> {
    pub(super) fn key_file(&mut self, f: &Field<'_>) -> Option<PathBuf> {
        let text = self.plain_string(f)?;
        let path = self.resolve_path(&text);
        let verdict = self
            .key_files
            .entry(path.clone())
            .or_insert_with(|| match fs::metadata(&path) {
                Ok(m) if m.is_file() => Ok(()),
                Ok(_) => Err("not a regular file".into()),
                Err(e) => Err(e.to_string()),
            })
            .clone();
        match verdict {
            Ok(()) => Some(path),
            Err(reason) => {
                self.problem(f.value, ProblemKind::KeyFileUnusable { path, reason });
                None
            }
        }
    }

    /// Relative paths are relative to the inventory's directory, so an inventory works from
    /// any working directory; `~/` is the user's home.
    fn resolve_path(&self, text: &str) -> PathBuf {
        if let Some(rest) = text.strip_prefix("~/")
            && let Some(home) = (self.env)("HOME")
        {
            return Path::new(&home).join(rest);
        }
        let path = Path::new(text);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// `password`, `password_env` or `password_file` (same for `secret`). A problem here
    /// names the variable or the file, never a value.
    pub(super) fn credential(&mut self, f: &Field<'_>, field: &'static str) -> Option<Secret> {
        if f.value.is_null() {
            return None;
        }
        let text = self.text(f)?;
        if f.name.ends_with("_env") {
            if !is_identifier(text) {
                self.invalid(f, format!("`{text}` is not an environment variable name"));
                return None;
            }
            return self.env_credential(f, field, text);
        }
        if f.name.ends_with("_file") {
            return self.file_credential(f, field, text);
        }
        if let Some(var) = text
            .strip_prefix("${")
            .and_then(|t| t.strip_suffix('}'))
            .filter(|v| is_identifier(v))
        {
            return self.env_credential(f, field, var);
        }
        // `$${X}` is the way to write a credential that really is `${X}`.
        if let Some(literal) = text.strip_prefix("$${") {
            return Some(Secret::new(format!("${{{literal}")));
        }
        Some(Secret::new(text))
    }

    fn env_credential(&mut self, f: &Field<'_>, field: &'static str, var: &str) -> Option<Secret> {
        match (self.env)(var) {
            None => {
                self.problem(
                    f.value,
                    ProblemKind::EnvVarNotSet {
                        field,
                        var: var.to_owned(),
                    },
                );
                None
            }
            Some(v) if v.is_empty() => {
                self.problem(
                    f.value,
                    ProblemKind::EnvVarEmpty {
                        field,
                        var: var.to_owned(),
                    },
                );
                None
            }
            Some(v) => Some(Secret::new(v)),
        }
    }

    fn file_credential(
        &mut self,
        f: &Field<'_>,
        field: &'static str,
        text: &str,
    ) -> Option<Secret> {
        let path = self.resolve_path(text);
        let cached = self
            .file_secrets
            .entry(path.clone())
            .or_insert_with(|| read_secret_file(&path, field))
            .clone();
        match cached {
            Ok(value) => Some(Secret::new(value)),
            Err(mut kind) => {
                // The cache is keyed by path; the field name is this use's.
                match &mut kind {
                    ProblemKind::SecretFileUnreadable { field: f2, .. }
                    | ProblemKind::SecretFileEmpty { field: f2, .. } => *f2 = f.name,
                    _ => {}
                }
                self.problem(f.value, kind);
                None
            }
        }
    }
}

fn read_secret_file(path: &Path, field: &'static str) -> Result<String, ProblemKind> {
    let unreadable = |reason: String| ProblemKind::SecretFileUnreadable {
        field,
        path: path.to_path_buf(),
        reason,
    };
    let bytes = fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable("not valid UTF-8".into()))?;
    // Files written by `echo` end with a newline that is not part of the credential.
    let value = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(ProblemKind::SecretFileEmpty {
            field,
            path: path.to_path_buf(),
        });
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert!(is_identifier("NETSWEEP_PW"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1X"));
        assert!(!is_identifier("A-B"));
        assert!(!is_identifier(""));
        // A var a template could not write as `{{ name }}`.
        assert!(!is_identifier("my-var"));
        assert!(!is_identifier("a.b"));
        assert!(!is_identifier("é"));
    }
}
