//! ntc-templates' `index` file and CliTable's choice of templates, as textfsm 2.1 makes it.
//!
//! The index is CSV with a header line (`Template, Hostname, Platform, Command`); lines
//! starting with `#` are comments, and a line with another number of fields is skipped, as
//! texttable skips it. Every field but `Template` is a Python regular expression matched at
//! the start of the attribute (Python's `re.match`: anchored at the start only, so
//! `cisco_ios` also matches `cisco_ios_ssh`). In `Command`, `sh[[ow]]` is a completion:
//! `sh(o(w)?)?`. The first row whose every column matches wins; its `Template` field may name
//! several templates joined by `:`.
//!
//! [`CliTable`] keeps the index and the templates compiled so far (each compiled once, the
//! first time a row names it) and merges several templates' rows on their `Key` values.
//! This module must not print, and reads only the index and template files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use regex_automata::{Anchored, Input};

use crate::error::Error;
use crate::pyre;
use crate::table::{Cell, Table};
use crate::template::{Engine, Template, compile, py_space};

/// A field of an index row, compiled when first matched.
#[derive(Debug)]
enum Matcher {
    /// A field without regex syntax: a prefix comparison.
    Literal(String),
    Regex(Engine),
}

impl Matcher {
    fn new(field: &str) -> Result<Matcher, String> {
        if !field.contains(|c: char| "\\.^$*+?{}[]|()".contains(c)) {
            return Ok(Matcher::Literal(field.to_string()));
        }
        let translated = pyre::translate(field)?;
        compile(&translated).map(Matcher::Regex)
    }

    /// Python's `re.match(field, text)`: a match starting at the start.
    fn matches(&self, text: &str) -> bool {
        match self {
            Matcher::Literal(prefix) => text.starts_with(prefix.as_str()),
            Matcher::Regex(Engine::Automaton(regex)) => {
                regex.is_match(Input::new(text).anchored(Anchored::Yes))
            }
            Matcher::Regex(Engine::Backtracking(regex)) => regex.is_match(text).unwrap_or(false),
        }
    }
}

/// One row of the index.
#[derive(Debug)]
pub struct IndexRow {
    /// The line of the index file it is on.
    pub line: usize,
    /// Its position among the rows.
    position: usize,
    /// The templates it names, in order.
    pub templates: Vec<String>,
    /// The fields, completions expanded, in column order.
    fields: Vec<String>,
    /// The fields as the file spells them.
    raw: Vec<String>,
    matchers: Vec<OnceLock<Result<Matcher, String>>>,
}

impl IndexRow {
    /// The field of `column` (by position), as the index spells it after completion.
    pub fn field(&self, column: usize) -> &str {
        &self.fields[column]
    }

    /// The field of `column` as the index file spells it (`sh[[ow]] ver[[sion]]`).
    pub fn raw_field(&self, column: usize) -> &str {
        &self.raw[column]
    }
}

/// A parsed `index` file.
#[derive(Debug)]
pub struct Index {
    path: PathBuf,
    columns: Vec<String>,
    template_column: usize,
    rows: Vec<IndexRow>,
}

impl Index {
    /// Reads an index file.
    pub fn from_file(path: &Path) -> Result<Index, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Reads an index from text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Index, Error> {
        let error = |line: usize, message: String| Error::Index {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let mut columns = Vec::new();
        for (_, line) in lines.by_ref() {
            let header = line.split('#').next().unwrap_or("").trim_matches(py_space);
            if !header.is_empty() {
                columns = header
                    .split(',')
                    .map(|c| c.trim_matches(py_space).to_string())
                    .collect();
                break;
            }
        }
        if columns.is_empty() {
            return Err(error(0, "no header line".into()));
        }
        for (i, column) in columns.iter().enumerate() {
            if columns[..i].contains(column) {
                return Err(error(1, format!("duplicate header entry {column:?}")));
            }
        }
        let template_column = columns
            .iter()
            .position(|c| c == "Template")
            .ok_or_else(|| error(1, "index file does not have 'Template' column".into()))?;
        let command_column = columns.iter().position(|c| c == "Command");
        let mut rows = Vec::new();
        for (number, line) in lines {
            if line.starts_with('#') {
                continue;
            }
            let mut fields: Vec<String> = line
                .split(',')
                .map(|f| f.trim_matches(py_space).to_string())
                .collect();
            if fields.len() != columns.len() {
                continue;
            }
            let raw = fields.clone();
            if let Some(column) = command_column {
                fields[column] = expand_completions(&fields[column]);
            }
            rows.push(IndexRow {
                line: number,
                position: rows.len(),
                templates: fields[template_column]
                    .split(':')
                    .map(str::to_string)
                    .collect(),
                matchers: fields.iter().map(|_| OnceLock::new()).collect(),
                fields,
                raw,
            });
        }
        Ok(Index {
            path: path.to_path_buf(),
            columns,
            template_column,
            rows,
        })
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The rows, in file order.
    pub fn rows(&self) -> &[IndexRow] {
        &self.rows
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first row matching every attribute (column name, value) that is a column of
    /// the index, as CliTable's `GetRowMatch` finds it.
    pub fn find(&self, attributes: &[(&str, &str)]) -> Result<Option<&IndexRow>, Error> {
        let columns: Vec<(usize, &str)> = attributes
            .iter()
            .filter_map(|(name, value)| {
                let column = self.columns.iter().position(|c| c == name)?;
                (column != self.template_column).then_some((column, *value))
            })
            .collect();
        for row in &self.rows {
            let mut all = true;
            for &(column, value) in &columns {
                if row.fields[column].is_empty() {
                    continue;
                }
                let matcher = row.matchers[column]
                    .get_or_init(|| Matcher::new(&row.fields[column]))
                    .as_ref()
                    .map_err(|message| Error::Index {
                        path: self.path.clone(),
                        line: row.line,
                        message: format!("{}: {message}", self.columns[column]),
                    })?;
                if !matcher.matches(value) {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}

/// CliTable's completion: each `[[word]]` becomes `(w(o(r(d)?)?)?)?`.
pub fn expand_completions(field: &str) -> String {
    let mut out = String::with_capacity(field.len() * 2);
    let mut rest = field;
    while let Some(open) = rest.find("[[") {
        let after = &rest[open + 2..];
        // Python's `\[\[.+?\]\]`: at least one character, then the first `]]`.
        let Some(first) = after.chars().next() else {
            break;
        };
        let Some(close) = after[first.len_utf8()..]
            .find("]]")
            .map(|c| c + first.len_utf8())
        else {
            break;
        };
        out.push_str(&rest[..open]);
        let word: Vec<char> = after[..close].chars().collect();
        out.push('(');
        out.push_str(
            &word
                .iter()
                .map(char::to_string)
                .collect::<Vec<_>>()
                .join("("),
        );
        out.push_str(&")?".repeat(word.len()));
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// An index with its template directory, compiling each template once.
#[derive(Debug)]
pub struct CliTable {
    dir: PathBuf,
    index: Index,
    compiled: RwLock<HashMap<String, Arc<Template>>>,
    /// Index rows already found, by (platform, command): a sweep asks the same question
    /// for every device, and the index is a linear scan of regexes.
    found: RwLock<HashMap<(String, String), Option<usize>>>,
}

impl CliTable {
    /// Opens `dir/index`.
    pub fn open(dir: &Path) -> Result<CliTable, Error> {
        Ok(CliTable {
            index: Index::from_file(&dir.join("index"))?,
            dir: dir.to_path_buf(),
            compiled: RwLock::new(HashMap::new()),
            found: RwLock::new(HashMap::new()),
        })
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The template directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The templates the index names for this platform and command.
    pub fn templates_for(&self, platform: &str, command: &str) -> Result<&[String], Error> {
        let key = (platform.to_string(), command.to_string());
        let known = self
            .found
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .copied();
        let row = match known {
            Some(row) => row,
            None => {
                let attributes = [("Platform", platform), ("Command", command)];
                let row = self.index.find(&attributes)?.map(|row| row.position);
                self.found
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, row);
                row
            }
        };
        match row.map(|row| &self.index.rows[row]) {
            Some(row) => Ok(&row.templates),
            None => Err(Error::NoTemplate {
                platform: platform.to_string(),
                command: command.to_string(),
                index: self.index.path.clone(),
            }),
        }
    }

    /// The compiled template of this file name in the template directory.
    pub fn template(&self, name: &str) -> Result<Arc<Template>, Error> {
        if let Some(found) = self
            .compiled
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(Arc::clone(found));
        }
        let template = Arc::new(Template::from_file(&self.dir.join(name))?);
        let mut compiled = self.compiled.write().unwrap_or_else(|e| e.into_inner());
        Ok(Arc::clone(
            compiled.entry(name.to_string()).or_insert(template),
        ))
    }

    /// Finds and compiles now everything a parse of this platform and command would: the
    /// index rows up to the matching one and its templates (see [`Template::prepare`]).
    pub fn prepare(&self, platform: &str, command: &str) -> Result<(), Error> {
        for name in self.templates_for(platform, command)? {
            self.template(name)?.prepare();
        }
        Ok(())
    }

    /// Parses a command's output with the templates the index chooses.
    pub fn parse(&self, platform: &str, command: &str, text: &str) -> Result<Table, Error> {
        let names = self.templates_for(platform, command)?;
        let templates = names
            .iter()
            .map(|name| Ok((name.as_str(), self.template(name)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        parse_merged(&templates, text)
    }
}

/// Parses `text` with each template and merges the tables as CliTable does: the columns a
/// later template adds are filled from its first row whose `Key` values equal the row's
/// (by position when no template has keys); rows of later templates that match no row are
/// dropped.
pub fn parse_merged<T: AsRef<Template>>(
    templates: &[(&str, T)],
    text: &str,
) -> Result<Table, Error> {
    let parse = |(name, template): &(&str, T)| {
        template
            .as_ref()
            .parse_text(text)
            .map_err(|source| Error::Parse {
                template: name.to_string(),
                source,
            })
    };
    let Some(first) = templates.first() else {
        return Ok(Table::default());
    };
    let mut table = parse(first)?;
    for later in &templates[1..] {
        let other = parse(later)?;
        if table.keys.is_empty() {
            table.keys = other.keys.clone();
        }
        extend(&mut table, other, templates)?;
    }
    Ok(table)
}

fn extend<T>(table: &mut Table, other: Table, templates: &[(&str, T)]) -> Result<(), Error> {
    let mut key_columns = Vec::new();
    for key in &table.keys {
        let column = table
            .header
            .iter()
            .position(|h| h == key)
            .ok_or_else(|| Error::Merge {
                templates: templates
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(":"),
                key: key.clone(),
            })?;
        let other_column = other.header.iter().position(|h| h == key);
        key_columns.push((column, other_column));
    }
    let added: Vec<usize> = (0..other.header.len())
        .filter(|&i| !table.header.contains(&other.header[i]))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    for &i in &added {
        table.header.push(other.header[i].clone());
    }
    let empty = Cell::Text(String::new());
    for row in &mut table.rows {
        row.extend(added.iter().map(|_| empty.clone()));
    }
    let width = table.header.len() - added.len();
    if key_columns.is_empty() {
        for (row, source) in table.rows.iter_mut().zip(&other.rows) {
            for (offset, &i) in added.iter().enumerate() {
                row[width + offset] = source[i].clone();
            }
        }
        return Ok(());
    }
    for row in &mut table.rows {
        let found = other.rows.iter().find(|source| {
            key_columns.iter().all(|&(mine, theirs)| match theirs {
                Some(theirs) => row[mine] == source[theirs],
                // texttable's missing column reads as an error in Python; no row matches.
                None => false,
            })
        });
        if let Some(source) = found {
            for (offset, &i) in added.iter().enumerate() {
                row[width + offset] = source[i].clone();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_expand_as_clitable_does() {
        assert_eq!(
            expand_completions("sh[[ow]] ver[[sion]]"),
            "sh(o(w)?)? ver(s(i(o(n)?)?)?)?"
        );
        assert_eq!(expand_completions("show"), "show");
        assert_eq!(expand_completions("a[[]]"), "a[[]]");
    }
}
