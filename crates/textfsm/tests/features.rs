//! Each TextFSM feature the ntc-templates use, against the rows Python textfsm 2.1 gives for
//! the same template and input (the expected JSON was produced by textfsm 2.1 through
//! CliTable's string conversion, and is kept here as data).

use netsweep_textfsm::{Cell, ParseError, Template};
use serde_json::{Value, json};

fn parse(template: &str, text: &str) -> Value {
    let template = Template::parse(template).expect("template compiles");
    let table = template.parse_text(text).expect("parses");
    serde_json::to_value(table.records()).expect("serialises")
}

#[test]
fn record_and_implicit_record_at_eof() {
    let template = "Value NAME (\\S+)\nValue AGE (\\d+)\n\nStart\n  ^${NAME} is ${AGE} -> Record\n  ^last ${NAME}\n";
    assert_eq!(
        parse(template, "bob is 32\nann is 41\nlast zed\n"),
        json!([
            {"name": "bob", "age": "32"},
            {"name": "ann", "age": "41"},
            {"name": "zed", "age": ""},
        ])
    );
}

#[test]
fn required_drops_records_without_the_value() {
    let template = "Value Required NAME (\\S+)\nValue AGE (\\d+)\n\nStart\n  ^name ${NAME} -> Continue\n  ^.*age ${AGE} -> Record\n";
    assert_eq!(
        parse(template, "name bob age 32\nage 40\nname ann age 41\n"),
        json!([{"name": "bob", "age": "32"}, {"name": "ann", "age": "41"}])
    );
}

#[test]
fn filldown_carries_values_until_clearall() {
    let template = "Value Filldown CHASSIS (\\S+)\nValue SLOT (\\d+)\n\nStart\n  ^chassis ${CHASSIS}\n  ^slot ${SLOT} -> Record\n  ^reset -> Clearall\n";
    assert_eq!(
        parse(
            template,
            "chassis c1\nslot 1\nslot 2\nchassis c2\nslot 3\nreset\nslot 4\n"
        ),
        json!([
            {"chassis": "c1", "slot": "1"},
            {"chassis": "c1", "slot": "2"},
            {"chassis": "c2", "slot": "3"},
            {"chassis": "", "slot": "4"},
        ])
    );
}

#[test]
fn fillup_backfills_earlier_records() {
    let template = "Value SLOT (\\d+)\nValue Fillup OWNER (\\S+)\n\nStart\n  ^slot ${SLOT} -> Record\n  ^owner ${OWNER} -> Record\n";
    assert_eq!(
        parse(template, "slot 1\nslot 2\nowner ann\nslot 3\n"),
        json!([
            {"slot": "1", "owner": "ann"},
            {"slot": "2", "owner": "ann"},
            {"slot": "", "owner": "ann"},
            {"slot": "3", "owner": ""},
        ])
    );
}

#[test]
fn list_collects_items_and_missing_groups_read_none() {
    let template = "Value Required VLAN (\\d+)\nValue List PORTS (\\S+)\n\nStart\n  ^vlan -> Continue.Record\n  ^vlan ${VLAN} ${PORTS}\n  ^\\s+(?:-|${PORTS})\n";
    let text = "vlan 1 Gi1\n  Gi3\nvlan 2 Gi4\n  -\n";
    assert_eq!(
        parse(template, text),
        json!([
            {"vlan": "1", "ports": ["Gi1", "Gi3"]},
            {"vlan": "2", "ports": ["Gi4", "None"]},
        ])
    );
}

#[test]
fn list_with_nested_groups_gives_dictionaries() {
    let template = "Value List PEOPLE ((?P<name>\\w+):(?P<age>\\d+))\n\nStart\n  ^${PEOPLE}\n";
    let table = Template::parse(template)
        .unwrap()
        .parse_text("bob:32\nann:41\n")
        .unwrap();
    assert_eq!(
        serde_json::to_value(table.records()).unwrap(),
        json!([{"people": ["{'name': 'bob', 'age': '32'}", "{'name': 'ann', 'age': '41'}"]}])
    );
}

#[test]
fn list_and_filldown_keep_the_list_across_records() {
    let template = "Value Filldown,List TAGS (\\w+)\nValue ID (\\d+)\n\nStart\n  ^tag ${TAGS}\n  ^id ${ID} -> Record\n";
    assert_eq!(
        parse(template, "tag a\nid 1\ntag b\nid 2\n"),
        // The implicit record at the end keeps the filled-down list.
        json!([
            {"tags": ["a"], "id": "1"},
            {"tags": ["a", "b"], "id": "2"},
            {"tags": ["a", "b"], "id": ""},
        ])
    );
}

#[test]
fn continue_tries_the_following_rules_on_the_same_line() {
    let template =
        "Value A (\\w+)\nValue B (\\w+)\n\nStart\n  ^${A} -> Continue\n  ^\\w+ ${B} -> Record\n";
    assert_eq!(
        parse(template, "x y\np q\n"),
        json!([{"a": "x", "b": "y"}, {"a": "p", "b": "q"}])
    );
}

#[test]
fn next_record_with_state_transitions() {
    let template = "Value Required IF (\\S+)\nValue MTU (\\d+)\n\nStart\n  ^interface ${IF} -> Body\n\nBody\n  ^\\s+mtu ${MTU}\n  ^! -> Next.Record Start\n";
    let text = "interface Gi1\n mtu 1500\n!\ninterface Gi2\n!\n mtu 9000\n";
    assert_eq!(
        parse(template, text),
        json!([{"if": "Gi1", "mtu": "1500"}, {"if": "Gi2", "mtu": ""}])
    );
}

#[test]
fn clear_keeps_filldown_values_only() {
    let template = "Value Filldown HOST (\\S+)\nValue IP (\\S+)\n\nStart\n  ^host ${HOST}\n  ^ip ${IP}\n  ^drop -> Clear\n  ^done -> Record\n";
    assert_eq!(
        parse(template, "host r1\nip 10.0.0.1\ndrop\ndone\n"),
        // `done` records host alone; so does the implicit record at the end.
        json!([{"host": "r1", "ip": ""}, {"host": "r1", "ip": ""}])
    );
}

#[test]
fn error_action_fails_the_parse_with_its_message() {
    let template = "Value A (\\w+)\n\nStart\n  ^ok ${A}\n  ^. -> Error \"unexpected line\"\n";
    let compiled = Template::parse(template).unwrap();
    match compiled.parse_text("ok x\nbad\n") {
        Err(ParseError::ErrorAction {
            message,
            rule_line,
            input,
        }) => {
            assert_eq!(message.as_deref(), Some("unexpected line"));
            assert_eq!(rule_line, 5);
            assert_eq!(input, "bad");
        }
        other => panic!("expected the Error action, got {other:?}"),
    }
}

#[test]
fn end_and_declared_eof_suppress_the_last_record() {
    let body = "Value A (\\w+)\n\nStart\n  ^stop -> End\n  ^${A}\n";
    assert_eq!(parse(body, "x\nstop\ny\n"), json!([]));
    let eof = "Value A (\\w+)\n\nStart\n  ^${A}\n\nEOF\n";
    assert_eq!(parse(eof, "x\n"), json!([]));
    // A transition to EOF stops reading but, with no EOF state declared, still records.
    let to_eof = "Value A (\\w+)\n\nStart\n  ^a ${A}\n  ^stop -> EOF\n";
    assert_eq!(parse(to_eof, "a x\nstop\na y\n"), json!([{"a": "x"}]));
}

#[test]
fn all_empty_records_are_not_kept_but_empty_matches_are() {
    let template = "Value A (\\w*)\n\nStart\n  ^a=${A}; -> Record\n  ^rec -> Record\n";
    assert_eq!(parse(template, "rec\na=;\n"), json!([{"a": ""}]));
}

#[test]
fn python_regex_spellings_and_dollar_escapes() {
    let template =
        "Value NAME (\\S+)\n\nStart\n  ^\\<${NAME}\\>\\s*$$ -> Record\n  ^x{,2}y\\Z -> Record\n";
    assert_eq!(
        parse(template, "<r1>\n<r2> tail\nxxy\n"),
        json!([{"name": "r1"}])
    );
}

#[test]
fn look_around_rules_run_on_the_backtracking_engine() {
    let template = "Value WORD (\\w+)\n\nStart\n  ^(?!skip)${WORD}(?=!) -> Record\n";
    assert_eq!(
        parse(template, "hello!\nskip!\nbye\n"),
        json!([{"word": "hello"}])
    );
}

#[test]
fn non_ascii_lines_match_with_unicode_classes() {
    let template = "Value DESC (\\w+)\n\nStart\n  ^desc ${DESC}$$ -> Record\n";
    assert_eq!(
        parse(template, "desc Zürich\ndesc plain\n"),
        json!([{"desc": "Zürich"}, {"desc": "plain"}])
    );
}

#[test]
fn keys_are_reported_in_value_order() {
    let template = Template::parse(
        "Value Key A (\\w)\nValue B (\\w)\nValue Key C (\\w)\n\nStart\n  ^${A}${B}${C} -> Record\n",
    )
    .unwrap();
    assert_eq!(template.keys(), ["A", "C"]);
    let table = template.parse_text("xyz\n").unwrap();
    assert_eq!(
        table.rows,
        [vec![
            Cell::Text("x".into()),
            Cell::Text("y".into()),
            Cell::Text("z".into())
        ]]
    );
}

#[test]
fn template_errors_name_the_line() {
    let cases = [
        (
            "Value A (\\w+\n\nStart\n  ^x\n",
            1,
            "must be contained within a '()' pair",
        ),
        ("Value Bogus A (x)\n\nStart\n  ^x\n", 1, "unknown option"),
        (
            "Value A (x)\n\nStart\n  ^${B} -> Record\n",
            4,
            "invalid variable substitution",
        ),
        (
            "Value A (x)\n\nStart\n  ^x -> Nowhere\n",
            4,
            "state 'Nowhere' not found",
        ),
        ("Value A (x)\n\nStart\n^x\n", 4, "before rule"),
        ("Value A (x)\n\nBegin\n  ^x\n", 0, "missing state 'Start'"),
        (
            "Value A (x)\n\nStart\n  ^x -> Continue Start\n",
            4,
            "with new state",
        ),
        (
            "Value A (x)\n\nStart\n  ^(x -> Record\n",
            4,
            "invalid regular expression",
        ),
        (
            "Value A (x)\n\nStart\n  ^x\n\nEOF\n  ^y\n",
            6,
            "non-empty 'EOF' state",
        ),
    ];
    for (template, line, words) in cases {
        let error = Template::parse(template).expect_err(template);
        assert_eq!(error.line, line, "{template}: {error}");
        assert!(error.to_string().contains(words), "{template}: {error}");
    }
}
