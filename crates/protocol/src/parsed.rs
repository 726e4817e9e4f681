//! Rows parsed from a command's output (`--parse`), as they travel in records and journals.
//!
//! Serialised the way netmiko and ntc-templates return them: a list of objects, keys
//! lower-cased, in the template's column order; a `List` value is a list of strings. Read
//! back, the columns keep the order the keys come in. This module only holds and
//! (de)serialises rows; parsing is the TextFSM engine's.

use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One cell: a string, or the items of a `List` value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParsedValue {
    /// A plain value.
    Text(String),
    /// A `List` value.
    List(Vec<String>),
}

impl ParsedValue {
    /// The cell as one string (list items joined by `", "`), for tables and CSV.
    pub fn to_text(&self) -> String {
        match self {
            ParsedValue::Text(text) => text.clone(),
            ParsedValue::List(items) => items.join(", "),
        }
    }
}

/// The rows of one command's output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedRows {
    /// Column names, lower-cased.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<ParsedValue>>,
}

impl Serialize for ParsedRows {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.rows.len()))?;
        for row in &self.rows {
            seq.serialize_element(&Row {
                columns: &self.columns,
                row,
            })?;
        }
        seq.end()
    }
}

struct Row<'a> {
    columns: &'a [String],
    row: &'a [ParsedValue],
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.row.len()))?;
        for (name, value) in self.columns.iter().zip(self.row) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// One row read back, its keys in the order they came.
struct OrderedRow(Vec<(String, ParsedValue)>);

impl<'de> Deserialize<'de> for OrderedRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = OrderedRow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a parsed row (an object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedRow, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(OrderedRow(entries))
            }
        }
        deserializer.deserialize_map(RowVisitor)
    }
}

impl<'de> Deserialize<'de> for ParsedRows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowsVisitor;
        impl<'de> Visitor<'de> for RowsVisitor {
            type Value = ParsedRows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of parsed rows")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParsedRows, A::Error> {
                let mut parsed = ParsedRows::default();
                let mut read: Vec<OrderedRow> = Vec::new();
                while let Some(row) = seq.next_element::<OrderedRow>()? {
                    for (name, _) in &row.0 {
                        if !parsed.columns.contains(name) {
                            parsed.columns.push(name.clone());
                        }
                    }
                    read.push(row);
                }
                for OrderedRow(entries) in read {
                    let mut row = vec![ParsedValue::Text(String::new()); parsed.columns.len()];
                    for (name, value) in entries {
                        if let Some(i) = parsed.columns.iter().position(|c| *c == name) {
                            row[i] = value;
                        }
                    }
                    parsed.rows.push(row);
                }
                Ok(parsed)
            }
        }
        deserializer.deserialize_seq(RowsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_as_a_list_of_objects_in_column_order() {
        let rows = ParsedRows {
            columns: vec!["version".into(), "hostname".into(), "ports".into()],
            rows: vec![vec![
                ParsedValue::Text("15.2".into()),
                ParsedValue::Text("r1".into()),
                ParsedValue::List(vec!["Gi1".into(), "None".into()]),
            ]],
        };
        let json = serde_json::to_string(&rows).unwrap();
        assert_eq!(
            json,
            r#"[{"version":"15.2","hostname":"r1","ports":["Gi1","None"]}]"#
        );
        assert_eq!(serde_json::from_str::<ParsedRows>(&json).unwrap(), rows);
    }
}
