//! Running a compiled template over text: Python textfsm 2.1's `ParseText`.
//!
//! Lines are split as Python's `str.splitlines()` splits them. For each line, the current
//! state's rules are tried in order; a matching rule assigns every value its regex names
//! (a group that took no part in the match assigns "nothing", as Python assigns `None`),
//! then applies its record operator, then its line operator: `Next` takes the next line
//! (and the new state), `Continue` goes on with the following rules on the same line,
//! `Error` stops with an error. At the end of input, unless the machine reached `End` or
//! the template declares an `EOF` state, the last record is appended. Value options hook
//! in where Python's do (assign, clear, clear all, save), in the order the template lists
//! them.
//!
//! This module must not read files or choose templates: it runs the one it is given.

use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input};

use crate::error::ParseError;
use crate::table::{Cell, ListItem, Table};
use crate::template::{Engine, LineOp, RecordOp, Target, Template, ValueOption};

/// Python's `value.value` of one value during a parse.
#[derive(Debug, Clone)]
enum Current {
    None,
    Text(String),
    List(Vec<ListItem>),
}

impl Current {
    fn is_truthy(&self) -> bool {
        match self {
            Current::None => false,
            Current::Text(text) => !text.is_empty(),
            Current::List(items) => !items.is_empty(),
        }
    }
}

/// One value's state during a parse.
#[derive(Debug, Clone)]
struct Slot {
    current: Current,
    /// Filldown's remembered value.
    filled: Option<String>,
    /// List's items so far.
    items: Vec<ListItem>,
}

struct Machine<'t> {
    template: &'t Template,
    slots: Vec<Slot>,
    rows: Vec<Vec<Cell>>,
}

impl Template {
    /// Parses `text` and returns its rows, as Python textfsm's `ParseText` does.
    pub fn parse_text(&self, text: &str) -> Result<Table, ParseError> {
        let mut machine = Machine {
            template: self,
            slots: vec![
                Slot {
                    current: Current::None,
                    filled: None,
                    items: Vec::new(),
                };
                self.values.len()
            ],
            rows: Vec::new(),
        };
        let mut captures: Vec<Option<Captures>> = (0..2 * self.rule_count).map(|_| None).collect();
        let mut spans = Vec::new();
        let mut state = 0;
        let mut stopped = None;
        for line in python_lines(text) {
            match machine.line(state, line, &mut captures, &mut spans)? {
                Target::Stay => {}
                Target::State(next) => state = next,
                stop @ (Target::End | Target::Eof) => {
                    stopped = Some(stop);
                    break;
                }
            }
        }
        if stopped != Some(Target::End) && !self.eof_declared {
            machine.append_record();
        }
        Ok(Table {
            header: self.header(),
            rows: machine.rows,
            keys: self.keys(),
        })
    }
}

impl<'t> Machine<'t> {
    /// One input line through the rules of `state`; returns where to go.
    fn line(
        &mut self,
        state_index: usize,
        line: &str,
        captures: &mut [Option<Captures>],
        spans: &mut Vec<Option<std::ops::Range<usize>>>,
    ) -> Result<Target, ParseError> {
        let state = &self.template.states[state_index];
        let input = Input::new(line).anchored(Anchored::Yes);
        let ascii = line.is_ascii();
        let mut from = 0;
        while from < state.rules.len() {
            // Find the first rule at `from` or later that matches, and its groups.
            spans.clear();
            let rule_index = if let Some(regex) = &state.rules[from].backtracking {
                let rule = &state.rules[from];
                match regex.captures(line) {
                    Ok(Some(found)) => {
                        spans.extend(
                            rule.assign
                                .iter()
                                .map(|&(g, _)| found.get(g).map(|m| m.range())),
                        );
                        from
                    }
                    Ok(None) => {
                        from += 1;
                        continue;
                    }
                    Err(e) => {
                        return Err(ParseError::Regex {
                            rule_line: rule.line,
                            message: e.to_string(),
                        });
                    }
                }
            } else {
                let run = state
                    .run(from)
                    .map_err(|message| ParseError::Regex {
                        rule_line: state.rules[from].line,
                        message,
                    })?
                    .expect("automaton rule has a run");
                let (regex, _) =
                    run.regex(&state.rules, ascii)
                        .map_err(|message| ParseError::Regex {
                            rule_line: state.rules[from].line,
                            message,
                        })?;
                let Some(found) = regex.search(&input) else {
                    from = run.end;
                    continue;
                };
                let index = run.first + found.pattern().as_usize();
                let rule = &state.rules[index];
                if !rule.assign.is_empty() {
                    let (regex, unicode) =
                        rule.groups_regex(ascii)
                            .map_err(|message| ParseError::Regex {
                                rule_line: rule.line,
                                message,
                            })?;
                    let slot = &mut captures[2 * (state.base + index) + usize::from(unicode)];
                    let caps = slot.get_or_insert_with(|| regex.create_captures());
                    regex.search_captures(&input.clone().range(..found.end()), caps);
                    spans.extend(
                        rule.assign
                            .iter()
                            .map(|&(g, _)| caps.get_group(g).map(|span| span.range())),
                    );
                }
                index
            };
            let rule = &state.rules[rule_index];
            for (&(_, value), span) in rule.assign.iter().zip(spans.iter()) {
                self.assign(value, span.clone().map(|span| &line[span]))?;
            }
            match rule.record_op {
                RecordOp::Record => self.append_record(),
                RecordOp::Clear => self.clear_record(),
                RecordOp::Clearall => self.clear_all(),
                RecordOp::NoRecord => {}
            }
            match rule.line_op {
                LineOp::Error => {
                    return Err(ParseError::ErrorAction {
                        message: rule.message.clone(),
                        rule_line: rule.line,
                        input: line.to_string(),
                    });
                }
                LineOp::Continue => from = rule_index + 1,
                LineOp::Next => return Ok(rule.target),
            }
        }
        Ok(Target::Stay)
    }

    /// `AssignVar`: the value takes the group's text (or nothing), then its options react.
    fn assign(&mut self, value: usize, text: Option<&str>) -> Result<(), ParseError> {
        let def = &self.template.values[value];
        let slot = &mut self.slots[value];
        slot.current = text.map_or(Current::None, |t| Current::Text(t.to_string()));
        for option in &def.options {
            match option {
                ValueOption::Filldown => slot.filled = text.map(str::to_string),
                ValueOption::Fillup => {
                    if let Some(text) = text.filter(|t| !t.is_empty()) {
                        for row in self.rows.iter_mut().rev() {
                            if row[value].is_truthy() {
                                break;
                            }
                            row[value] = Cell::Text(text.to_string());
                        }
                    }
                }
                ValueOption::List => {
                    let item = match (&def.nested, text) {
                        (Some(nested), Some(text)) => nested_item(nested, text, &def.name)?,
                        (Some(_), None) => {
                            // Python's `re.match(None)` raises here.
                            return Err(ParseError::NestedList {
                                value: def.name.clone(),
                                text: String::new(),
                            });
                        }
                        (None, text) => ListItem::Text(text.map(str::to_string)),
                    };
                    slot.items.push(item);
                }
                ValueOption::Required | ValueOption::Key => {}
            }
        }
        Ok(())
    }

    /// `_AppendRecord`: save hooks (a `Required` value that is empty drops the record),
    /// then the row, unless every value is empty.
    fn append_record(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let mut skip = false;
        'values: for (def, slot) in self.template.values.iter().zip(&mut self.slots) {
            for option in &def.options {
                match option {
                    ValueOption::Required if !slot.current.is_truthy() => {
                        skip = true;
                        break 'values;
                    }
                    ValueOption::List => slot.current = Current::List(slot.items.clone()),
                    _ => {}
                }
            }
        }
        if skip {
            self.clear_record();
            return;
        }
        let all_empty = self.slots.iter().all(|s| match &s.current {
            Current::None => true,
            Current::List(items) => items.is_empty(),
            Current::Text(_) => false,
        });
        if all_empty {
            return;
        }
        let row = self
            .slots
            .iter()
            .map(|s| match &s.current {
                Current::None => Cell::Text(String::new()),
                Current::Text(text) => Cell::Text(text.clone()),
                Current::List(items) => Cell::List(items.clone()),
            })
            .collect();
        self.rows.push(row);
        self.clear_record();
    }

    /// `_ClearRecord`: values forget, except what Filldown remembers.
    fn clear_record(&mut self) {
        for (def, slot) in self.template.values.iter().zip(&mut self.slots) {
            slot.current = Current::None;
            for option in &def.options {
                match option {
                    ValueOption::Filldown => {
                        slot.current = slot.filled.clone().map_or(Current::None, Current::Text);
                    }
                    ValueOption::List if !def.filldown => slot.items.clear(),
                    _ => {}
                }
            }
        }
    }

    /// `_ClearAllRecord`: values forget everything.
    fn clear_all(&mut self) {
        for slot in &mut self.slots {
            slot.current = Current::None;
            slot.filled = None;
            slot.items.clear();
        }
    }
}

/// A `List` value with nested groups: a dictionary of its named groups, or the text when
/// it has none.
fn nested_item(regex: &Engine, text: &str, value: &str) -> Result<ListItem, ParseError> {
    let no_match = || ParseError::NestedList {
        value: value.to_string(),
        text: text.to_string(),
    };
    let groups: Vec<(String, Option<String>)> = match regex {
        Engine::Automaton(regex) => {
            let mut caps = regex.create_captures();
            regex.search_captures(&Input::new(text).anchored(Anchored::Yes), &mut caps);
            if !caps.is_match() {
                return Err(no_match());
            }
            let names = regex
                .group_info()
                .pattern_names(regex_automata::PatternID::ZERO);
            names
                .enumerate()
                .filter_map(|(g, name)| {
                    Some((
                        name?.to_string(),
                        caps.get_group(g).map(|s| text[s.range()].to_string()),
                    ))
                })
                .collect()
        }
        Engine::Backtracking(regex) => {
            let found = regex.captures(text).ok().flatten().ok_or_else(no_match)?;
            regex
                .capture_names()
                .enumerate()
                .filter_map(|(g, name)| {
                    Some((
                        name?.to_string(),
                        found.get(g).map(|m| m.as_str().to_string()),
                    ))
                })
                .collect()
        }
    };
    Ok(if groups.is_empty() {
        ListItem::Text(Some(text.to_string()))
    } else {
        ListItem::Groups(groups)
    })
}

/// Python's `str.splitlines()`: every line boundary Python knows, no trailing empty line.
pub(crate) fn python_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.char_indices().find(|&(_, c)| {
            matches!(
                c,
                '\n' | '\r'
                    | '\x0b'
                    | '\x0c'
                    | '\x1c'
                    | '\x1d'
                    | '\x1e'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            )
        }) {
            Some((i, c)) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") {
                    2
                } else {
                    c.len_utf8()
                };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::python_lines;

    #[test]
    fn lines_split_as_python_splits_them() {
        let lines: Vec<&str> = python_lines("a\r\nb\rc\n\nd\x0ce\u{2028}f\n").collect();
        assert_eq!(lines, ["a", "b", "c", "", "d", "e", "f"]);
        assert_eq!(python_lines("").count(), 0);
    }
}
