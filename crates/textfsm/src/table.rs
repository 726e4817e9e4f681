//! Parsed rows: the cells a template gives, and how they look to netmiko's users.
//!
//! A cell holds what Python textfsm's FSM holds (a string, or for a `List` value a list
//! whose items may be missing or dictionaries). netmiko and ntc-templates hand rows out
//! through CliTable, which turns every list item into `str(item)`: a missing item becomes
//! `"None"` and a dictionary its Python `repr`. Serialising a [`Table`] or a [`Cell`] gives
//! that CliTable form, so JSON from netsweep equals JSON from `parse_output`.
//!
//! Nothing here parses: the engine fills tables, this module only holds and shows them.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// One item of a `List` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem {
    /// The matched text; `None` when the value's group did not take part in the match.
    Text(Option<String>),
    /// The named groups of a `List` value whose regex has nested groups, in order.
    Groups(Vec<(String, Option<String>)>),
}

/// One value of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// A plain value (empty when never assigned).
    Text(String),
    /// A `List` value.
    List(Vec<ListItem>),
}

impl Cell {
    /// Python truthiness of the value, which Fillup and Required go by.
    pub(crate) fn is_truthy(&self) -> bool {
        match self {
            Cell::Text(text) => !text.is_empty(),
            Cell::List(items) => !items.is_empty(),
        }
    }

    /// The cell as text: a plain value as it is, a list as CliTable's items joined by
    /// `", "` (for tables and CSV, where a cell is one string).
    pub fn to_text(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::List(items) => items
                .iter()
                .map(ListItem::to_clitable)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

impl ListItem {
    /// `str(item)` in Python, as CliTable stores list items.
    pub fn to_clitable(&self) -> String {
        match self {
            ListItem::Text(Some(text)) => text.clone(),
            ListItem::Text(None) => "None".to_string(),
            ListItem::Groups(groups) => {
                let body: Vec<String> = groups
                    .iter()
                    .map(|(name, value)| {
                        let value = value
                            .as_deref()
                            .map_or_else(|| "None".to_string(), python_repr);
                        format!("{}: {value}", python_repr(name))
                    })
                    .collect();
                format!("{{{}}}", body.join(", "))
            }
        }
    }
}

/// Python's `repr()` of a string.
fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Text(text) => serializer.serialize_str(text),
            Cell::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&item.to_clitable())?;
                }
                seq.end()
            }
        }
    }
}

/// The rows a template (or several, merged) gave, with the template's column names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// Column names as the template's `Value` lines spell them.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<Cell>>,
    /// The columns marked `Key`, in header order.
    pub keys: Vec<String>,
}

impl Table {
    /// The column names lower-cased, as netmiko and ntc-templates name them.
    pub fn lower_header(&self) -> Vec<String> {
        self.header.iter().map(|h| h.to_lowercase()).collect()
    }

    /// The rows as records: each a map from lower-cased column name to cell, in column
    /// order (serialises as netmiko's list of dictionaries).
    pub fn records(&self) -> Records<'_> {
        Records {
            header: self.lower_header(),
            table: self,
        }
    }
}

/// [`Table::records`]: serialises as a list of objects with lower-cased keys.
pub struct Records<'a> {
    header: Vec<String>,
    table: &'a Table,
}

impl Serialize for Records<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.table.rows.len()))?;
        for row in &self.table.rows {
            seq.serialize_element(&Record {
                header: &self.header,
                row,
            })?;
        }
        seq.end()
    }
}

struct Record<'a> {
    header: &'a [String],
    row: &'a [Cell],
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.row.len()))?;
        for (name, cell) in self.header.iter().zip(self.row) {
            map.serialize_entry(name, cell)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_look_as_clitable_makes_them() {
        let cell = Cell::List(vec![
            ListItem::Text(Some("Gi1".into())),
            ListItem::Text(None),
            ListItem::Groups(vec![
                ("name".into(), Some("it's".into())),
                ("age".into(), None),
            ]),
        ]);
        assert_eq!(
            serde_json::to_string(&cell).unwrap(),
            r#"["Gi1","None","{'name': \"it's\", 'age': None}"]"#
        );
        assert_eq!(cell.to_text(), "Gi1, None, {'name': \"it's\", 'age': None}");
    }

    #[test]
    fn records_have_lower_case_keys_in_column_order() {
        let table = Table {
            header: vec!["VERSION".into(), "Hostname".into()],
            rows: vec![vec![Cell::Text("15.2".into()), Cell::Text("r1".into())]],
            keys: vec![],
        };
        assert_eq!(
            serde_json::to_string(&table.records()).unwrap(),
            r#"[{"version":"15.2","hostname":"r1"}]"#
        );
    }
}
