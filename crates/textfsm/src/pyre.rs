//! Python `re` pattern syntax rewritten for Rust's regex engines.
//!
//! Templates are written for Python's `re`; most of it means the same in the `regex` family
//! of crates, but not all: `\Z`, `{,n}`, a `{` that is no quantifier, `[` or `&&` inside a
//! class, `\<` (a literal in Python, a word boundary in Rust), octal escapes, `(?#…)`
//! comments. This module rewrites those and reports whether the pattern needs a
//! backtracking engine (look-around, back-references, atomic groups, possessive
//! quantifiers, conditionals), which the finite-automaton engine cannot run.
//!
//! It must not compile anything: it only rewrites text, so that every caller compiles the
//! result with the engine of its choice.

/// A pattern in the syntax Rust's regex crates read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Translated {
    /// The rewritten pattern.
    pub pattern: String,
    /// True when only a backtracking engine (`fancy-regex`) can run it.
    pub backtracking: bool,
    /// The capturing groups in number order (group `i + 1`), with their names: Python's
    /// `compiled.groups` is its length.
    pub groups: Vec<Option<String>>,
}

/// Rewrites a Python `re` pattern; the error says what Python's syntax would not accept
/// either, or what this rewriting does not support.
pub(crate) fn translate(python: &str) -> Result<Translated, String> {
    let chars: Vec<char> = python.chars().collect();
    let mut out = String::with_capacity(python.len() + 8);
    let mut backtracking = false;
    let mut groups = Vec::new();
    let mut i = 0;
    // Whether the previous item can take a quantifier: a possessive `+` follows one.
    let mut after_quantifier = false;
    // Open groups: whether each is a look-around, and where it starts in `out`.
    let mut open: Vec<(bool, usize)> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        let was_quantifier = after_quantifier;
        after_quantifier = false;
        match c {
            '\\' => {
                i = escape(&chars, i, false, &mut out, &mut backtracking)?;
                continue;
            }
            '[' => {
                i = class(&chars, i, &mut out)?;
                continue;
            }
            '(' => {
                let at = out.len();
                i = group_open(&chars, i, &mut out, &mut backtracking, &mut groups)?;
                let lookaround = out[at..].starts_with("(?=")
                    || out[at..].starts_with("(?!")
                    || out[at..].starts_with("(?<=")
                    || out[at..].starts_with("(?<!");
                open.push((lookaround, at));
                continue;
            }
            ')' => {
                out.push(')');
                i += 1;
                if let Some((true, at)) = open.pop() {
                    // Python repeats a zero-width assertion; fancy-regex refuses to. Once or
                    // more is once; zero or more always succeeds and can go.
                    if let Some((least, end)) = quantifier_after(&chars, i) {
                        if least == 0 {
                            out.truncate(at);
                        }
                        i = end;
                    }
                }
                continue;
            }
            '{' => {
                if let Some((quantifier, end)) = repetition(&chars, i) {
                    out.push_str(&quantifier);
                    i = end;
                    after_quantifier = true;
                    continue;
                }
                out.push_str("\\{");
            }
            '}' => out.push_str("\\}"),
            ']' => out.push_str("\\]"),
            '*' | '?' => {
                out.push(c);
                after_quantifier = true;
                if chars.get(i + 1) == Some(&'?') {
                    out.push('?');
                    i += 1;
                    after_quantifier = false;
                }
            }
            '+' => {
                if was_quantifier {
                    // Python 3.11's possessive quantifier.
                    backtracking = true;
                    out.push('+');
                } else {
                    out.push('+');
                    after_quantifier = true;
                    if chars.get(i + 1) == Some(&'?') {
                        out.push('?');
                        i += 1;
                        after_quantifier = false;
                    }
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(Translated {
        pattern: out,
        backtracking,
        groups,
    })
}

/// The quantifier starting at `chars[at]`, if any: its least count and where it ends.
fn quantifier_after(chars: &[char], at: usize) -> Option<(u32, usize)> {
    let (least, mut end) = match chars.get(at)? {
        '+' => (1, at + 1),
        '*' | '?' => (0, at + 1),
        '{' => {
            let (text, end) = repetition(chars, at)?;
            let least = text[1..].split([',', '}']).next()?.parse().ok()?;
            (least, end)
        }
        _ => return None,
    };
    if matches!(chars.get(end), Some('?' | '+')) {
        end += 1;
    }
    Some((least, end))
}

/// `{m}`, `{m,}`, `{,n}`, `{m,n}` and `{,}` as Python reads them, in Rust's spelling; `None`
/// when the brace is a literal.
fn repetition(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut i = start + 1;
    let digits = |i: &mut usize| {
        let from = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        chars[from..*i].iter().collect::<String>()
    };
    if chars.get(i) == Some(&'}') {
        return None;
    }
    let low = digits(&mut i);
    let (comma, high) = if chars.get(i) == Some(&',') {
        i += 1;
        (true, digits(&mut i))
    } else {
        (false, String::new())
    };
    if chars.get(i) != Some(&'}') {
        return None;
    }
    let low = if low.is_empty() { "0".to_string() } else { low };
    let text = match (comma, high.is_empty()) {
        (false, _) => format!("{{{low}}}"),
        (true, true) => format!("{{{low},}}"),
        (true, false) => format!("{{{low},{high}}}"),
    };
    Some((text, i + 1))
}

/// A character Python reads literally, written so that Rust reads it literally too, in or
/// out of a class and with or without the `x` flag.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() && c != '<' && c != '>' {
        out.push('\\');
        out.push(c);
    } else if c.is_whitespace() || c.is_control() {
        out.push_str(&format!("\\x{{{:x}}}", c as u32));
    } else {
        out.push(c);
    }
}

/// The escape at `chars[start]` (a backslash); returns the index after it.
fn escape(
    chars: &[char],
    start: usize,
    in_class: bool,
    out: &mut String,
    backtracking: &mut bool,
) -> Result<usize, String> {
    let Some(&c) = chars.get(start + 1) else {
        return Err("bad escape (end of pattern)".into());
    };
    let mut next = start + 2;
    match c {
        'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'n' | 't' | 'r' | 'f' | 'v' | 'a' => {
            out.push('\\');
            out.push(c);
        }
        'b' if in_class => out.push_str("\\x{8}"),
        'A' | 'b' | 'B' if !in_class => {
            out.push('\\');
            out.push(c);
        }
        'Z' if !in_class => out.push_str("\\z"),
        'x' => {
            let hex: String = chars.iter().skip(start + 2).take(2).collect();
            if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Err(format!("incomplete escape \\x{hex}"));
            }
            out.push_str(&format!("\\x{{{hex}}}"));
            next = start + 4;
        }
        'u' | 'U' => {
            let width = if c == 'u' { 4 } else { 8 };
            let hex: String = chars.iter().skip(start + 2).take(width).collect();
            if hex.len() != width || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Err(format!("incomplete escape \\{c}{hex}"));
            }
            out.push_str(&format!("\\x{{{hex}}}"));
            next = start + 2 + width;
        }
        '0'..='7'
            if c == '0'
                || in_class
                || (chars
                    .get(start + 2)
                    .is_some_and(|d| ('0'..='7').contains(d))
                    && chars
                        .get(start + 3)
                        .is_some_and(|d| ('0'..='7').contains(d))) =>
        {
            // An octal escape: `\0`, `\0oo`, or three octal digits.
            let mut digits = String::new();
            let mut j = start + 1;
            while j < chars.len() && j < start + 4 && ('0'..='7').contains(&chars[j]) {
                digits.push(chars[j]);
                j += 1;
            }
            let code = u32::from_str_radix(&digits, 8).map_err(|e| e.to_string())?;
            out.push_str(&format!("\\x{{{code:x}}}"));
            next = j;
        }
        '1'..='9' if !in_class => {
            // A back-reference by number.
            *backtracking = true;
            let mut j = start + 1;
            while j < chars.len() && j < start + 3 && chars[j].is_ascii_digit() {
                j += 1;
            }
            out.push('\\');
            out.extend(&chars[start + 1..j]);
            next = j;
        }
        c if c.is_ascii_alphanumeric() => return Err(format!("bad escape \\{c}")),
        c => push_literal(out, c),
    }
    Ok(next)
}

/// The class opening at `chars[start]` (`[`); returns the index after its `]`.
fn class(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        out.push_str("\\]");
        i += 1;
    }
    let mut ignored = false;
    let mut previous = None;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unterminated character set".into());
        };
        match c {
            ']' => {
                out.push(']');
                return Ok(i + 1);
            }
            '\\' => {
                i = escape(chars, i, true, out, &mut ignored)?;
                previous = None;
                continue;
            }
            '[' | '&' | '~' => push_literal(out, c),
            '-' if previous == Some('-') => out.push_str("\\-"),
            c if c.is_whitespace() => push_literal(out, c),
            c => out.push(c),
        }
        previous = Some(c);
        i += 1;
    }
}

/// The group opening at `chars[start]` (`(`): its kind decides the engine.
fn group_open(
    chars: &[char],
    start: usize,
    out: &mut String,
    backtracking: &mut bool,
    groups: &mut Vec<Option<String>>,
) -> Result<usize, String> {
    if chars.get(start + 1) != Some(&'?') {
        groups.push(None);
        out.push('(');
        return Ok(start + 1);
    }
    let rest: String = chars[start + 2..].iter().take(3).collect();
    let after = start + 2;
    if rest.starts_with("P<") {
        let name: String = chars[after + 2..]
            .iter()
            .take_while(|&&c| c != '>')
            .collect();
        groups.push(Some(name));
        out.push_str("(?P<");
        return Ok(after + 2);
    }
    if let Some(name_start) = rest.strip_prefix("P=").map(|_| after + 2) {
        let end = (name_start..chars.len())
            .find(|&j| chars[j] == ')')
            .ok_or("unterminated back-reference")?;
        let name: String = chars[name_start..end].iter().collect();
        *backtracking = true;
        out.push_str(&format!("\\k<{name}>"));
        return Ok(end + 1);
    }
    if rest.starts_with('#') {
        let end = (after..chars.len())
            .find(|&j| chars[j] == ')')
            .ok_or("missing ), unterminated comment")?;
        return Ok(end + 1);
    }
    if rest.starts_with(':') {
        out.push_str("(?:");
        return Ok(after + 1);
    }
    if rest.starts_with('=') || rest.starts_with('!') || rest.starts_with('>') {
        *backtracking = true;
        out.push_str("(?");
        out.push(chars[after]);
        return Ok(after + 1);
    }
    if rest.starts_with("<=") || rest.starts_with("<!") {
        *backtracking = true;
        out.push_str("(?");
        out.extend(&chars[after..after + 2]);
        return Ok(after + 2);
    }
    if rest.starts_with('(') {
        *backtracking = true;
        out.push_str("(?");
        return Ok(after);
    }
    // Inline flags: `(?imsx)`, `(?imsx-imsx:…)`; `u` is Python's default, `a` and `L` have
    // no faithful Rust counterpart.
    let mut j = after;
    out.push_str("(?");
    while let Some(&f) = chars.get(j) {
        match f {
            'i' | 'm' | 's' | 'x' | '-' => out.push(f),
            'u' => {}
            ':' | ')' => {
                if out.ends_with("(?") && f == ')' {
                    // Only `u`: nothing left to say.
                    out.truncate(out.len() - 2);
                } else if out.ends_with("(?") {
                    out.push(':');
                } else {
                    out.push(f);
                }
                return Ok(j + 1);
            }
            other => return Err(format!("unsupported inline flag or group (?{other}")),
        }
        j += 1;
    }
    Err("missing ), unterminated group".into())
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn rust(python: &str) -> String {
        translate(python).expect("translates").pattern
    }

    #[test]
    fn common_syntax_is_kept() {
        assert_eq!(
            rust(r"^\s*(?P<IF>\S+)\s+(\d+|-)$"),
            r"^\s*(?P<IF>\S+)\s+(\d+|-)$"
        );
        assert_eq!(rust(r"(?:a|b)*?x+?"), r"(?:a|b)*?x+?");
    }

    #[test]
    fn python_only_spellings_are_rewritten() {
        assert_eq!(rust(r"end\Z"), r"end\z");
        assert_eq!(rust(r"a{,3}b{2,}c{1}"), r"a{0,3}b{2,}c{1}");
        assert_eq!(rust(r"{foo}"), r"\{foo\}");
        assert_eq!(rust(r"\<\S+\>"), r"<\S+>");
        assert_eq!(rust(r"[[:x&&y~~]"), r"[\[:x\&\&y\~\~]");
        assert_eq!(rust(r"[]a]"), r"[\]a]");
        assert_eq!(rust(r"a(?#note)b"), "ab");
        assert_eq!(rust(r"\0\101"), r"\x{0}\x{41}");
        assert_eq!(rust(r"\ \#"), r"\x{20}\#");
        assert_eq!(rust(r"[\b]"), r"[\x{8}]");
    }

    #[test]
    fn backtracking_constructs_are_flagged() {
        for pattern in [
            r"a(?=b)", r"(?!x)y", r"(?<=a)b", r"(?<!a)b", r"(a)\1", r"(?>a)", "a*+",
        ] {
            assert!(translate(pattern).unwrap().backtracking, "{pattern}");
        }
        assert!(!translate(r"a*b+c?(d)").unwrap().backtracking);
        assert_eq!(rust(r"(?P<x>a)(?P=x)"), r"(?P<x>a)\k<x>");
        assert_eq!(rust(r"a(?<=[^()\s])+b"), r"a(?<=[^()\s])b");
        assert_eq!(rust(r"a(?=b)*c"), r"ac");
    }

    #[test]
    fn groups_are_counted() {
        assert_eq!(
            translate(r"((?P<a>\d+)(?:x)(?=z)(y))").unwrap().groups,
            [None, Some("a".to_string()), None]
        );
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert!(translate(r"\q").is_err());
        assert!(translate(r"[abc").is_err());
    }
}
