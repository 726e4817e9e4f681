//! Parsed rows as a terminal table or CSV, one line per row (per device), with `--fields`
//! choosing and ordering the columns.
//!
//! Columns are the lower-cased value names the templates give (netmiko's keys), in the order
//! first seen, after a leading `device` column when the rows come from a sweep. A field that
//! no table has is an error naming the fields that exist. This module only formats: it is
//! handed parsed tables and a writer.

use std::io::{self, Write};

use anyhow::bail;
use netsweep_protocol::ParsedRows;

/// How parsed rows are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RowsFormat {
    /// A list of objects (netmiko's `use_textfsm=True` result).
    Json,
    /// Aligned columns under a header.
    Table,
    /// Comma-separated values with a header line.
    Csv,
}

/// Rows ready to print: column names and text cells.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub columns: Vec<String>,
    pub cells: Vec<Vec<String>>,
}

impl Rows {
    /// The rows of tables, each optionally labelled with its device (then `device` is the
    /// first column), restricted to `fields` in that order when any are given.
    pub(crate) fn collect<'a>(
        tables: impl IntoIterator<Item = (Option<&'a str>, &'a ParsedRows)>,
        fields: &[String],
    ) -> anyhow::Result<Rows> {
        let tables: Vec<(Option<&str>, &ParsedRows)> = tables.into_iter().collect();
        let with_device = tables.iter().any(|(device, _)| device.is_some());
        let mut available: Vec<String> = Vec::new();
        if with_device {
            available.push("device".to_string());
        }
        for (_, table) in &tables {
            for name in &table.columns {
                if !available.contains(name) {
                    available.push(name.clone());
                }
            }
        }
        let columns: Vec<String> = if fields.is_empty() {
            available.clone()
        } else {
            let unknown: Vec<&String> = fields.iter().filter(|f| !available.contains(f)).collect();
            if !unknown.is_empty() {
                bail!(
                    "--fields: no parsed row has {}; the fields are: {}",
                    unknown
                        .iter()
                        .map(|f| format!("'{f}'"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    available.join(", ")
                );
            }
            let mut chosen = Vec::new();
            if with_device && !fields.iter().any(|f| f == "device") {
                chosen.push("device".to_string());
            }
            chosen.extend(fields.iter().cloned());
            chosen
        };
        let mut cells = Vec::new();
        for (device, table) in &tables {
            let header = &table.columns;
            for row in &table.rows {
                cells.push(
                    columns
                        .iter()
                        .map(|column| {
                            if column == "device" && with_device {
                                return device.unwrap_or("").to_string();
                            }
                            header
                                .iter()
                                .position(|h| h == column)
                                .map(|i| row[i].to_text())
                                .unwrap_or_default()
                        })
                        .collect(),
                );
            }
        }
        Ok(Rows { columns, cells })
    }

    /// Aligned columns under a header; the last column is not padded.
    pub(crate) fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &self.cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
            let last = cells.len().saturating_sub(1);
            for (i, cell) in cells.iter().enumerate() {
                if i == last {
                    writeln!(out, "{cell}")?;
                } else {
                    write!(out, "{cell:<width$}  ", width = widths[i])?;
                }
            }
            Ok(())
        };
        let header: Vec<String> = self.columns.iter().map(|c| c.to_uppercase()).collect();
        line(out, &header)?;
        for row in &self.cells {
            line(out, row)?;
        }
        Ok(())
    }

    /// RFC 4180 CSV: a header line, then one line per row.
    pub(crate) fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
            let quoted: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
            writeln!(out, "{}", quoted.join(","))
        };
        line(out, &self.columns)?;
        for row in &self.cells {
            line(out, row)?;
        }
        Ok(())
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netsweep_protocol::ParsedValue;

    fn table(header: &[&str], rows: &[&[&str]]) -> ParsedRows {
        ParsedRows {
            columns: header.iter().map(|h| h.to_lowercase()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| ParsedValue::Text(c.to_string())).collect())
                .collect(),
        }
    }

    #[test]
    fn devices_come_first_and_fields_choose_columns() {
        let a = table(&["HOSTNAME", "VERSION", "SERIAL"], &[&["r1", "15.2", "X1"]]);
        let b = table(
            &["HOSTNAME", "VERSION", "UPTIME"],
            &[&["r2", "17.3", "1 day"]],
        );
        let rows = Rows::collect([(Some("core-1"), &a), (Some("core-2"), &b)], &[]).unwrap();
        assert_eq!(
            rows.columns,
            ["device", "hostname", "version", "serial", "uptime"]
        );
        assert_eq!(rows.cells[1], ["core-2", "r2", "17.3", "", "1 day"]);
        let fields = ["version".to_string(), "hostname".to_string()];
        let rows = Rows::collect([(Some("core-1"), &a)], &fields).unwrap();
        assert_eq!(rows.columns, ["device", "version", "hostname"]);
        let mut out = Vec::new();
        rows.write_table(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "DEVICE  VERSION  HOSTNAME\ncore-1  15.2     r1\n"
        );
    }

    #[test]
    fn an_unknown_field_names_the_fields_that_exist() {
        let a = table(&["HOSTNAME", "VERSION"], &[&["r1", "15.2"]]);
        let error = Rows::collect([(None, &a)], &["serail".to_string()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--fields: no parsed row has 'serail'; the fields are: hostname, version"
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let a = table(&["A", "B"], &[&["x,y", "say \"hi\""]]);
        let mut out = Vec::new();
        Rows::collect([(None, &a)], &[])
            .unwrap()
            .write_csv(&mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n"
        );
    }
}
