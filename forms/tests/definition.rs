//! Reading YAML forms: each kind of mistake gives a FormIssue naming file, line, item and fix.

use tessera_forms::{Form, FormIssue, ItemType, Locale};

const HEADER: &str = "id: t\nversion: 1.0.0\ntitle: T\nitems:\n";

/// Reads a form made of HEADER plus `items` (YAML lines under `items:`), expecting issues.
fn issues(items: &str) -> Vec<FormIssue> {
    match Form::from_yaml("forms/t.yaml", &format!("{HEADER}{items}")) {
        Ok(_) => panic!("expected issues for:\n{items}"),
        Err(issues) => issues,
    }
}

/// Asserts one issue at `line` (of the whole file; items start at line 5) whose text
/// contains every one of `parts`.
fn assert_issue(items: &str, line: usize, parts: &[&str]) {
    let found = issues(items);
    let shown: Vec<String> = found.iter().map(|i| i.to_string()).collect();
    assert!(
        found
            .iter()
            .any(|i| i.line == Some(line) && parts.iter().all(|p| i.to_string().contains(p))),
        "no issue at line {line} with {parts:?} in {shown:#?}"
    );
}

#[test]
fn a_good_form_reads() {
    let form = Form::from_yaml(
        "t.yaml",
        &format!("{HEADER}  - {{linkId: a, type: string, text: A}}\n"),
    )
    .unwrap();
    assert_eq!(form.id(), "t");
    assert_eq!(form.version().to_string(), "1.0.0");
    assert_eq!(form.url(), "urn:tessera:form:t");
    assert_eq!(form.title(&Locale::new("en")), "T");
    assert_eq!(form.item("a").unwrap().item_type, ItemType::String);
}

#[test]
fn unknown_keys_are_named_with_the_known_ones() {
    assert_issue(
        "  - linkId: a\n    type: string\n    txt: A\n",
        7,
        &["forms/t.yaml line 7 (items[0] 'a'): unknown key 'txt' in an item; known keys: linkId, type, text"],
    );
    let found = Form::from_yaml(
        "forms/t.yaml",
        "id: t\nversion: 1.0.0\ntitel: T\ntitle: T\nitems:\n  - {linkId: a, type: string}\n",
    )
    .unwrap_err();
    assert_eq!(found[0].line, Some(3));
    assert!(
        found[0]
            .message
            .starts_with("unknown key 'titel' in a form"),
        "{found:#?}"
    );
}

#[test]
fn wrong_value_types_are_named() {
    assert_issue(
        "  - linkId: a\n    type: string\n    required: yes\n",
        7,
        &["(items[0] 'a')", "expected true or false, found text"],
    );
    assert_issue(
        "  - linkId: a\n    type: string\n    maxLength: ten\n",
        7,
        &["expected a whole number of characters"],
    );
    assert_issue(
        "  - linkId: a\n    type: integer\n    min: low\n",
        7,
        &["expected a whole number for a integer item, found 'low'"],
    );
    assert_issue(
        "  - linkId: a\n    type: date\n    initial: 2024-02-30\n",
        7,
        &["expected a date like 2024-05-31"],
    );
}

#[test]
fn references_to_unknown_items_are_named_with_a_suggestion() {
    let items = "  - {linkId: weight, type: decimal, text: W}\n  - linkId: bmi\n    type: decimal\n    enableWhen:\n      - {question: wieght, operator: exists, answer: true}\n";
    assert_issue(items, 8, &["forms/t.yaml line 8 (items[1] 'bmi'): enableWhen refers to unknown item 'wieght' (did you mean 'weight'?)"]);
    let items = "  - {linkId: weight, type: decimal, text: W}\n  - linkId: bmi\n    type: decimal\n    calculated: {\"*\": [{var: wieght}, 2]}\n";
    assert_issue(
        items,
        8,
        &[
            "(items[1] 'bmi')",
            "calculation refers to unknown item 'wieght' (did you mean 'weight'?)",
        ],
    );
    let items = "  - linkId: a\n    type: integer\n    constraints:\n      - {key: k, logic: {\">\": [{var: b}, 1]}, message: M}\n";
    assert_issue(items, 7, &["constraint refers to unknown item 'b'"]);
    let items = "  - linkId: a\n    type: integer\n    prefill: {var: b}\n";
    assert_issue(
        items,
        7,
        &["prefill can only read patient, today and observations"],
    );
}

#[test]
fn duplicate_and_malformed_link_ids_are_refused() {
    let items = "  - {linkId: a, type: string}\n  - linkId: g\n    type: group\n    items:\n      - {linkId: a, type: integer}\n";
    assert_issue(
        items,
        9,
        &["(items[1].items[0] 'a')", "duplicate linkId 'a'"],
    );
    assert_issue(
        "  - {linkId: 1.2, type: string}\n",
        5,
        &["linkId '1.2' must start with a letter"],
    );
    assert_issue(
        "  - {linkId: patient, type: string}\n",
        5,
        &["linkId 'patient' is reserved"],
    );
}

#[test]
fn bad_regex_min_over_max_and_bad_logic_are_refused() {
    assert_issue(
        "  - linkId: a\n    type: string\n    regex: \"[0-9\"\n",
        7,
        &["regex '[0-9' is not valid"],
    );
    assert_issue(
        "  - linkId: a\n    type: integer\n    min: 10\n    max: 5\n",
        7,
        &["min (10) is greater than max (5)"],
    );
    assert_issue(
        "  - linkId: a\n    type: integer\n    calculated: {foo: [1]}\n",
        7,
        &["(items[0] 'a'): invalid JSON Logic: unknown operator 'foo'"],
    );
    assert_issue(
        "  - linkId: a\n    type: date\n    min: 2024-01-10\n    max: 2024-01-01\n",
        7,
        &["min (2024-01-10) is greater than max (2024-01-01)"],
    );
}

#[test]
fn choices_need_options_and_types_must_be_known() {
    assert_issue(
        "  - {linkId: a, type: choice, text: A}\n",
        5,
        &["choice item 'a' has no options"],
    );
    assert_issue(
        "  - {linkId: a, type: choice, valueSet: nope}\n",
        5,
        &["valueSet 'nope' is not one of the form's codeSystems"],
    );
    assert_issue(
        "  - {linkId: a, type: radio}\n",
        5,
        &["unknown item type 'radio'; use one of: group, display, boolean"],
    );
    assert_issue(
        "  - {linkId: a, type: quantity}\n",
        5,
        &["a quantity item needs units"],
    );
    assert_issue(
        "  - {linkId: a, type: choice, options: [x, y], initial: z}\n",
        5,
        &["initial value 'z' is not one of the options"],
    );
    let items = "  - {linkId: a, type: choice, options: [x, y]}\n  - linkId: b\n    type: string\n    enableWhen: [{question: a, operator: \"=\", answer: z}]\n";
    assert_issue(items, 8, &["'z' is not one of the options of 'a' (x, y)"]);
}

#[test]
fn properties_on_the_wrong_type_and_other_mistakes() {
    assert_issue(
        "  - {linkId: a, type: string, units: [kg]}\n",
        5,
        &["'units' only applies to quantity items, and 'a' is string"],
    );
    assert_issue(
        "  - {linkId: a, type: boolean, maxLength: 3}\n",
        5,
        &["'maxLength' only applies to string, text and open-choice items"],
    );
    assert_issue(
        "  - {linkId: a, type: group, items: [{linkId: b, type: string}], repeats: true}\n",
        5,
        &["repeating groups are not supported"],
    );
    assert_issue("  - {linkId: a, type: integer}\n  - {linkId: b, type: string, enableWhen: [{question: a, operator: \">\", answer: x}]}\n", 6, &["expected a whole number"]);
    assert_issue("  - {linkId: a, type: string}\n  - {linkId: b, type: string, enableWhen: [{question: a, operator: \">\", answer: x}]}\n", 6, &["operator '>' needs an item with an order"]);
    let cycle = "  - {linkId: a, type: integer, calculated: {var: b}}\n  - {linkId: b, type: integer, calculated: {var: a}}\n";
    assert_issue(
        cycle,
        5,
        &["calculations depend on each other in a circle: a -> b -> a"],
    );
    let found = Form::from_yaml(
        "forms/t.yaml",
        "id: t\nversion: 1.2\ntitle: T\nitems:\n  - {linkId: a, type: string}\n",
    )
    .unwrap_err();
    assert!(
        found[0]
            .to_string()
            .contains("line 2 (version): version '1.2' is not a semantic version"),
        "{found:#?}"
    );
    let found = Form::from_yaml(
        "forms/t.yaml",
        "id: t\nversion: 1.0.0\ntitle: [T\nitems: []\n",
    )
    .unwrap_err();
    assert!(
        found[0].message.starts_with("YAML syntax error"),
        "{found:#?}"
    );
    let found = Form::from_yaml("forms/t.yaml", "id: t\nversion: 1.0.0\nitems:\n  - {linkId: a, type: string}\n  - {linkId: a, type: string, type: integer}\n").unwrap_err();
    assert!(
        found
            .iter()
            .any(|i| i.line == Some(5) && i.message.contains("key 'type' appears twice")),
        "{found:#?}"
    );
}

#[test]
fn many_problems_are_reported_together_in_line_order() {
    let items = "  - {linkId: a, type: choice}\n  - {linkId: b, type: radio}\n  - linkId: c\n    type: string\n    regex: \"(\"\n";
    let found = issues(items);
    assert!(found.len() >= 3, "{found:#?}");
    let lines: Vec<usize> = found.iter().filter_map(|i| i.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}
