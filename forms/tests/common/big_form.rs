//! A generated 100-item form (10 pages of 10 items: a group and 9 questions of every common
//! kind, with enableWhen, a calculation, ranges, a pattern, options and an Observation code),
//! and posted fields that answer it. Used by tests/big_form.rs and benches/forms.rs.

/// Number of pages; each page is 10 items.
pub const PAGES: usize = 10;

/// The form's YAML.
pub fn yaml() -> String {
    let mut y = String::from(
        "id: big\nversion: 1.0.0\ntitle: {en: A long form, hi: एक लंबा फ़ॉर्म}\nitems:\n",
    );
    for g in 0..PAGES {
        y.push_str(&format!(
            r#"  - linkId: page{g}
    type: group
    page: true
    text: Page {g}
    items:
      - {{linkId: p{g}_int, type: integer, text: Count {g}, min: 0, max: 100, required: true}}
      - {{linkId: p{g}_dec, type: decimal, text: Amount {g}, help: Any amount, constraints: [{{key: c{g}, logic: {{">=": [{{var: p{g}_dec}}, 0]}}, message: Must not be negative}}]}}
      - {{linkId: p{g}_str, type: string, text: Name {g}, maxLength: 50, regex: "[A-Za-z ]+"}}
      - {{linkId: p{g}_bool, type: boolean, text: Flag {g}}}
      - {{linkId: p{g}_choice, type: choice, text: Pick {g}, required: true, options: [{{code: a, display: Alpha}}, {{code: b, display: Beta}}, {{code: c, display: Gamma}}]}}
      - {{linkId: p{g}_date, type: date, text: Date {g}, min: 2000-01-01}}
      - {{linkId: p{g}_qty, type: quantity, text: Weight {g}, units: [kg], min: 1, max: 300, observation: {{system: http://loinc.org, code: 29463-7}}}}
      - linkId: p{g}_follow
        type: integer
        text: Follow-up {g}
        enableWhen: [{{question: p{g}_bool, operator: "=", answer: true}}]
      - {{linkId: p{g}_calc, type: decimal, text: Total {g}, calculated: {{"+": [{{var: p{g}_int}}, {{var: p{g}_dec}}]}}}}
"#
        ));
    }
    y
}

/// Posted fields answering every enabled question validly.
pub fn fields() -> Vec<(String, String)> {
    let mut f = vec![("_csrf".to_string(), "token".to_string())];
    for g in 0..PAGES {
        for (name, value) in [
            ("int", "42"),
            ("dec", "3.5"),
            ("str", "Asha Devi"),
            ("bool", "true"),
            ("choice", "b"),
            ("date", "2024-05-01"),
            ("qty", "61.5"),
            ("follow", "7"),
        ] {
            f.push((format!("p{g}_{name}"), value.to_string()));
        }
    }
    f
}
