//! The YAML document as a tree of nodes that remember where they were written.
//!
//! The inventory is not deserialized straight into structs: a struct stops at its first
//! error, and the user deserves every problem of a large file at once. Instead the document
//! becomes this tree (serde-saphyr's `Spanned` gives each node its line and column), and
//! [`crate::entry`] validates it field by field.
//!
//! Plain scalars that YAML would type as numbers or booleans (`password: 0x1F`,
//! `secret: 1.10`, `username: yes`) keep their exact source spelling for string fields: a
//! password must never be silently rewritten to `31`, `1.1` or `true`.
//!
//! This module must not interpret fields; it only reads YAML.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// One YAML node with its position.
///
/// Kept small on purpose: an inventory of tens of thousands of devices is a tree of hundreds
/// of thousands of nodes, and the whole tree is in memory at once. Hence `u32` positions
/// (serde-saphyr counts in `u32` too), boxed slices and `Box<str>` text, without spare
/// capacity, and the rare typed scalar boxed.
#[derive(Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub line: u32,
    pub column: u32,
}

/// What a node holds.
#[derive(Debug)]
pub(crate) enum Kind {
    Null,
    /// A YAML boolean, number or non-finite float, with its source spelling.
    Typed(Box<TypedScalar>),
    Str(Box<str>),
    Seq(Box<[Node]>),
    Map(Box<[(Node, Node)]>),
}

/// A typed scalar: its meaning and how it was written.
#[derive(Debug)]
pub(crate) struct TypedScalar {
    pub value: Typed,
    spelling: Spelling,
}

/// Where a typed scalar's spelling comes from. The deserializer sees only the span; [`parse`]
/// replaces every span with the text it covers before handing the tree over.
#[derive(Debug)]
enum Spelling {
    Span {
        offset: Option<u64>,
        len: Option<u64>,
    },
    Text(Box<str>),
}

/// The typed meaning of a plain scalar.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Typed {
    Bool(bool),
    Int(i128),
    Float(f64),
}

impl Node {
    /// The node's text if it is a scalar: strings as parsed, typed scalars as written.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            Kind::Typed(t) => Some(t.raw()),
            _ => None,
        }
    }

    /// The typed meaning and source spelling, if this is a typed scalar.
    pub fn typed(&self) -> Option<(Typed, &str)> {
        match &self.kind {
            Kind::Typed(t) => Some((t.value, t.raw())),
            _ => None,
        }
    }

    /// What kind of YAML value this is, for "must be a string, not a list" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "empty",
            Kind::Typed(t) if matches!(t.value, Typed::Bool(_)) => "a boolean",
            Kind::Typed(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// Whether this is a mapping with `key` among its keys.
    pub fn has_key(&self, key: &str) -> bool {
        match &self.kind {
            Kind::Map(pairs) => pairs.iter().any(|(k, _)| k.text() == Some(key)),
            _ => false,
        }
    }

    /// Replaces every typed scalar's span with its source text.
    fn resolve_spellings(&mut self, source: &str) {
        match &mut self.kind {
            Kind::Typed(t) => t.resolve(source),
            Kind::Seq(items) => items.iter_mut().for_each(|i| i.resolve_spellings(source)),
            Kind::Map(pairs) => {
                for (k, v) in pairs {
                    k.resolve_spellings(source);
                    v.resolve_spellings(source);
                }
            }
            Kind::Null | Kind::Str(_) => {}
        }
    }
}

impl TypedScalar {
    /// The spelling as written ([`parse`] resolves every span before handing the tree over).
    fn raw(&self) -> &str {
        match &self.spelling {
            Spelling::Text(text) => text,
            Spelling::Span { .. } => "",
        }
    }

    fn resolve(&mut self, source: &str) {
        let Spelling::Span { offset, len } = self.spelling else {
            return;
        };
        let text = offset
            .zip(len)
            .and_then(|(offset, len)| {
                let start = usize::try_from(offset).ok()?;
                let end = start.checked_add(usize::try_from(len).ok()?)?;
                source.get(start..end)
            })
            .map(Box::from)
            .unwrap_or_else(|| match self.value {
                Typed::Bool(b) => b.to_string().into(),
                Typed::Int(i) => i.to_string().into(),
                Typed::Float(f) => f.to_string().into(),
            });
        self.spelling = Spelling::Text(text);
    }
}

/// A parse failure: where, and the parser's message (without source snippets, which could
/// show a credential written near the error).
#[derive(Debug)]
pub(crate) struct ParseFailure {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Parses one YAML document.
pub(crate) fn parse(source: &str) -> Result<Node, ParseFailure> {
    // Budgets sized for fleets of tens of thousands of devices, each entry often with a
    // `<<: *defaults` merge (so one anchor, 20,000 aliases: the alias/anchor ratio check
    // would refuse that). Event, node and depth caps still bound an alias bomb.
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 50_000_000,
            max_nodes: 20_000_000,
            max_aliases: 5_000_000,
            max_anchors: 5_000_000,
            max_merge_keys: 5_000_000,
            max_recorded_anchor_events: 50_000_000,
            max_total_scalar_bytes: 512 * 1024 * 1024,
            max_documents: 1,
            enforce_alias_anchor_ratio: false,
        },
        with_snippet: false,
        emit_comments: false,
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
    };
    // The tree is built in one pass, straight from the parser's events: an intermediate
    // tree would double the peak memory of a large inventory.
    let mut root: Node = serde_saphyr::from_str_with_options(source, options).map_err(|e| {
        use serde_saphyr::MessageFormatter;
        let inner = e.without_snippet();
        let location = inner.location();
        ParseFailure {
            line: location.map_or(1, |l| l.line().max(1)),
            column: location.map_or(1, |l| l.column().max(1)),
            message: one_line(&serde_saphyr::DefaultMessageFormatter.format_message(inner)),
        }
    })?;
    root.resolve_spellings(source);
    Ok(root)
}

/// The parser's message on one line: control characters (a newline, a terminal escape
/// copied from the file) are shown escaped; everything else, quotes included, as written.
fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(deserializer)?;
        let mut kind = spanned.value;
        if let Kind::Typed(t) = &mut kind {
            // `defined` points at the scalar itself even when it is reached through an
            // alias or a merge key.
            let span = spanned.defined.span();
            t.spelling = Spelling::Span {
                offset: span.byte_offset(),
                len: span.byte_len(),
            };
        }
        let position = |n: u64| u32::try_from(n.max(1)).unwrap_or(u32::MAX);
        Ok(Node {
            kind,
            line: position(spanned.referenced.line()),
            column: position(spanned.referenced.column()),
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

fn typed(value: Typed) -> Kind {
    Kind::Typed(Box::new(TypedScalar {
        value,
        spelling: Spelling::Span {
            offset: None,
            len: None,
        },
    }))
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(typed(Typed::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(typed(Typed::Int(i128::from(v))))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(typed(Typed::Int(i128::from(v))))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(typed(Typed::Int(v)))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Kind, E> {
        Ok(typed(Typed::Int(i128::try_from(v).unwrap_or(i128::MAX))))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(typed(Typed::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(Box::from(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v.into_boxed_str()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Kind::Seq(items.into_boxed_slice()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            pairs.push((key, value));
        }
        Ok(Kind::Map(pairs.into_boxed_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &[(Node, Node)] {
        match &node.kind {
            Kind::Map(pairs) => pairs,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn typed_scalars_keep_their_spelling() {
        let doc = parse("a: 0x1F\nb: 1.10\nc: yes\nd: 010\ne: .nan\nf: '0x1F'\n").unwrap();
        let texts: Vec<_> = map(&doc).iter().map(|(_, v)| v.text().unwrap()).collect();
        assert_eq!(texts, ["0x1F", "1.10", "yes", "010", ".nan", "0x1F"]);
    }

    #[test]
    fn aliases_and_merges_keep_the_defined_spelling() {
        let doc = parse("d: &d\n  p: 0x10\nx:\n  <<: *d\n  q: *d\n").unwrap();
        let x = &map(&doc)[1].1;
        let p = map(x).iter().find(|(k, _)| k.text() == Some("p")).unwrap();
        assert_eq!(p.1.text(), Some("0x10"));
    }

    #[test]
    fn positions_are_one_based() {
        let doc = parse("a:\n  - b: 1\n").unwrap();
        let (key, list) = &map(&doc)[0];
        assert_eq!((key.line, key.column), (1, 1));
        let Kind::Seq(items) = &list.kind else {
            panic!()
        };
        assert_eq!((items[0].line, items[0].column), (2, 5));
    }

    #[test]
    fn nodes_stay_small() {
        // A 20,000-device inventory is a tree of some 150,000 nodes, whole in memory at once.
        assert!(
            std::mem::size_of::<Node>() <= 32,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_positions() {
        let e = parse("a: 1\na: 2\n").err().unwrap();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("duplicate"), "{}", e.message);
        let e = parse("a: [1,\n").err().unwrap();
        assert!(e.line >= 1);
        // Quotes as written, not `unclosed bracket \'[\'`.
        assert!(!e.message.contains('\\'), "{}", e.message);
        assert!(e.message.contains("'['"), "{}", e.message);
    }

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(
            one_line("bad\nline\u{1b}[31m 'x'"),
            "bad\\nline\\u{1b}[31m 'x'"
        );
    }
}
