//! `{{name}}` templates: a simulated platform's prompts, replies and command outputs are text
//! with the device's facts filled in (`{{hostname}}`, `{{serial}}`, `{{now_hms}}`, …).
//!
//! Double braces because real outputs use single ones (Junos configurations). A name the
//! variables do not know is an error at model load (see [`check`]), never a silent blank.
//! `{{name:<16}}` and `{{name:>8}}` pad the value to a column width, as tables need.

/// Something that knows the value of template variables.
pub(crate) trait Vars {
    /// The value of `name`, or `None` if there is no such variable.
    fn get(&self, name: &str) -> Option<String>;
}

/// Renders `template`, leaving an unknown variable as written (models are checked at load
/// with [`check`], so this only happens in a model under construction).
pub(crate) fn render(template: &str, vars: &dyn Vars) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let (name, width) = split_width(after[..close].trim());
                match vars.get(name) {
                    Some(value) => match width {
                        Some(Width::Left(w)) => out.push_str(&format!("{value:<w$}")),
                        Some(Width::Right(w)) => out.push_str(&format!("{value:>w$}")),
                        None => out.push_str(&value),
                    },
                    None => out.push_str(&rest[open..open + 2 + close + 2]),
                }
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

enum Width {
    Left(usize),
    Right(usize),
}

/// `name:<16` → (`name`, left-aligned in 16 columns).
fn split_width(spec: &str) -> (&str, Option<Width>) {
    let Some((name, format)) = spec.split_once(':') else {
        return (spec, None);
    };
    let width = match (format.strip_prefix('<'), format.strip_prefix('>')) {
        (Some(w), _) => w.parse().ok().map(Width::Left),
        (_, Some(w)) => w.parse().ok().map(Width::Right),
        _ => None,
    };
    match width {
        Some(w) => (name.trim(), Some(w)),
        None => (spec, None),
    }
}

/// The variable names a template uses, in order.
pub(crate) fn names(template: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        found.push(split_width(after[..close].trim()).0);
        rest = &after[close + 2..];
    }
    found
}

/// The names `template` uses that `known` does not accept.
pub(crate) fn check<'t>(template: &'t str, known: &dyn Fn(&str) -> bool) -> Vec<&'t str> {
    names(template).into_iter().filter(|n| !known(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Two;
    impl Vars for Two {
        fn get(&self, name: &str) -> Option<String> {
            match name {
                "hostname" => Some("r1".into()),
                "n" => Some("7".into()),
                _ => None,
            }
        }
    }

    #[test]
    fn variables_are_filled_and_single_braces_kept() {
        assert_eq!(
            render("{{hostname}}# {{ n }} { braces } {{nope}}", &Two),
            "r1# 7 { braces } {{nope}}"
        );
        assert_eq!(render("[{{hostname:<4}}|{{n:>3}}]", &Two), "[r1  |  7]");
        assert_eq!(render("unclosed {{hostname", &Two), "unclosed {{hostname");
        assert_eq!(names("a {{x}} b {{ y:<9 }}"), ["x", "y"]);
        assert_eq!(
            check("{{hostname}} {{nope}}", &|n| n == "hostname"),
            ["nope"]
        );
    }
}
