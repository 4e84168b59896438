//! Server-side validation: every kind of bad answer is refused with a message on its item.

mod common;

use common::{anc, answers_of, context, find_item, response};
use serde_json::{json, Value};
use tessera_forms::{ItemError, Locale};

fn errors(response: &Value) -> Vec<ItemError> {
    match anc().validate(response, &context()) {
        Ok(_) => panic!("expected errors for {response:#}"),
        Err(errors) => errors,
    }
}

/// Asserts there is exactly one error, on `link_id`, containing `text`.
fn assert_only_error(response: &Value, link_id: &str, text: &str) {
    let errors = errors(response);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].link_id, link_id, "{errors:#?}");
    assert!(
        errors[0].message.contains(text),
        "'{}' should contain '{text}'",
        errors[0].message
    );
}

/// Sets the answers of an item in a response (JSON answers, as an API client would send).
fn with_answer(mut response: Value, link_id: &str, answers: Value) -> Value {
    fn walk(items: &mut Value, link_id: &str, answers: &Value) -> bool {
        for item in items.as_array_mut().into_iter().flatten() {
            if item["linkId"] == link_id {
                item["answer"] = answers.clone();
                return true;
            }
            if walk(&mut item["item"], link_id, answers) {
                return true;
            }
        }
        false
    }
    assert!(
        walk(&mut response["item"], link_id, &answers),
        "{link_id} is in the response"
    );
    response
}

#[test]
fn a_valid_response_is_normalized_and_calculations_recomputed() {
    // The client claims a BMI of 99: the server recomputes it.
    let sent = response(&[("bmi", "99")]);
    assert_eq!(answers_of(&sent, "bmi"), [json!({"valueDecimal": 99})]);
    let valid = anc().validate(&sent, &context()).expect("valid");
    let qr = valid.questionnaire_response();
    assert_eq!(
        qr["questionnaire"],
        "https://forms.tessera.health/anc-visit|1.2.0"
    );
    assert_eq!(answers_of(qr, "bmi"), [json!({"valueDecimal": 24.2})]);
    assert_eq!(
        answers_of(qr, "due_date"),
        [json!({"valueDate": "2024-10-07"})]
    );
    assert_eq!(answers_of(qr, "ga_weeks"), [json!({"valueInteger": 21})]);
    assert_eq!(answers_of(qr, "ga_days"), [json!({"valueInteger": 5})]);
    assert_eq!(
        answers_of(qr, "measured_at"),
        [json!({"valueDateTime": "2024-06-01T10:30:00+05:30"})]
    );
    assert_eq!(
        answers_of(qr, "measured_time"),
        [json!({"valueTime": "10:35:00"})]
    );
    assert_eq!(
        answers_of(qr, "weight")[0]["valueQuantity"],
        json!({"value": 62, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"})
    );
    // APGAR items are disabled for a first pregnancy: the calculated score is dropped.
    assert!(find_item(&qr["item"], "apgar_previous").is_none());
    assert_eq!(qr["subject"]["reference"], "Patient/p1");
}

#[test]
fn wrong_types_are_refused_per_item() {
    assert_only_error(
        &response(&[("age", "thirty")]),
        "age",
        "Enter a whole number, like 42 ('thirty' is not one)",
    );
    assert_only_error(&response(&[("height", "1,6")]), "height", "Enter a number");
    assert_only_error(
        &response(&[("visit_date", "2024-02-30")]),
        "visit_date",
        "Enter a real date",
    );
    assert_only_error(
        &response(&[("measured_time", "25:00")]),
        "measured_time",
        "Enter a time",
    );
    assert_only_error(
        &response(&[("measured_at", "yesterday")]),
        "measured_at",
        "Enter a date and time",
    );
    assert_only_error(
        &response(&[("first_pregnancy", "maybe")]),
        "first_pregnancy",
        "Answer yes or no",
    );
    assert_only_error(
        &response(&[("weight", "heavy")]),
        "weight",
        "Enter a number with its unit",
    );
    let boolean_for_string = with_answer(response(&[]), "notes", json!([{"valueBoolean": true}]));
    assert_only_error(
        &boolean_for_string,
        "notes",
        "Enter text (valueBoolean true is not text)",
    );
    let string_for_choice = with_answer(response(&[]), "risk", json!([{"valueString": "low"}]));
    assert_only_error(&string_for_choice, "risk", "Choose one of the options");
}

#[test]
fn out_of_range_too_long_and_badly_formatted_answers_are_refused() {
    assert_only_error(&response(&[("age", "5")]), "age", "Must be at least 10.");
    assert_only_error(
        &response(&[("weight", "250")]),
        "weight",
        "Must be at most 200.",
    );
    assert_only_error(
        &response(&[("height", "0.5")]),
        "height",
        "Must be at least 1.2.",
    );
    assert_only_error(
        &response(&[("phone", "12345")]),
        "phone",
        "Does not have the expected format: 10 digits.",
    );
    let long = "x".repeat(501);
    let r = response(&[("risk", "high"), ("referral_reason", &long)]);
    assert_only_error(
        &r,
        "referral_reason",
        "Must be 500 characters or fewer (this is 501).",
    );
}

#[test]
fn closed_choices_and_units_only_take_listed_values() {
    assert_only_error(
        &response(&[("risk", "medium")]),
        "risk",
        "'medium' is not one of the options (low, high).",
    );
    assert_only_error(
        &response(&[("weight.unit", "[lb_av]")]),
        "weight",
        "The unit '[lb_av]' is not allowed here; use kg.",
    );
    let wrong_system = with_answer(
        response(&[]),
        "risk",
        json!([{"valueCoding": {"system": "http://other", "code": "low"}}]),
    );
    assert_only_error(&wrong_system, "risk", "'low' is not one of the options");
    // An open choice takes free text as well as its options.
    let r = response(&[
        ("risk", "high"),
        ("referral_reason", "BP"),
        ("facility", "Mission hospital"),
    ]);
    let valid = anc()
        .validate(&r, &context())
        .expect("free text in an open choice");
    assert_eq!(
        answers_of(valid.questionnaire_response(), "facility"),
        [json!({"valueString": "Mission hospital"})]
    );
    let r = response(&[
        ("risk", "high"),
        ("referral_reason", "BP"),
        ("facility", "PHC"),
    ]);
    let valid = anc().validate(&r, &context()).unwrap();
    assert_eq!(
        answers_of(valid.questionnaire_response(), "facility")[0]["valueCoding"]["code"],
        "PHC"
    );
}

#[test]
fn answers_to_hidden_items_are_refused() {
    // previous_births is enabled only when this is not her first pregnancy.
    let r = response(&[("previous_births", "2")]);
    assert_only_error(&r, "previous_births", "it is hidden");
    assert!(anc()
        .validate(
            &response(&[("first_pregnancy", "false"), ("previous_births", "2")]),
            &context()
        )
        .is_ok());
    // fever_days is enabled when any of the repeating symptoms is fever.
    assert_only_error(
        &response(&[("fever_days", "3")]),
        "fever_days",
        "it is hidden",
    );
    let mut fields = common::fields(&[("fever_days", "3")]);
    fields.push(("symptoms".into(), "fever".into()));
    let r = anc().response_from_form_fields(&fields, &common::meta());
    assert!(anc().validate(&r, &context()).is_ok());
}

#[test]
fn required_answers_are_needed_only_when_enabled() {
    assert_only_error(&response(&[("lmp", "")]), "lmp", "An answer is required.");
    // referral_reason is required, but only shown (enableWhenExpression) for high risk.
    assert!(anc().validate(&response(&[]), &context()).is_ok());
    assert_only_error(
        &response(&[("risk", "high")]),
        "referral_reason",
        "An answer is required.",
    );
    // A draft (in-progress) may leave required answers out.
    let mut draft = response(&[("lmp", ""), ("visit_date", "")]);
    draft["status"] = json!("in-progress");
    assert!(anc().validate(&draft, &context()).is_ok());
}

#[test]
fn unknown_items_wrong_places_and_repeats_are_refused() {
    let mut r = response(&[]);
    r["item"]
        .as_array_mut()
        .unwrap()
        .push(json!({"linkId": "wieght", "answer": [{"valueInteger": 60}]}));
    assert_only_error(&r, "wieght", "This form has no item 'wieght'.");

    let mut r = response(&[]);
    r["item"]
        .as_array_mut()
        .unwrap()
        .push(json!({"linkId": "notes", "answer": [{"valueString": "again"}]}));
    let errs = errors(&r);
    assert!(
        errs.iter().any(
            |e| e.link_id == "notes" && e.message.contains("belongs inside group 'assessment'")
        ),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.link_id == "notes" && e.message.contains("appears more than once")),
        "{errs:#?}"
    );

    let twice = with_answer(
        response(&[]),
        "age",
        json!([{"valueInteger": 30}, {"valueInteger": 31}]),
    );
    assert_only_error(&twice, "age", "Only one answer is allowed; 2 were given.");

    let mut group_answer = response(&[]);
    group_answer["item"][0]["answer"] = json!([{"valueString": "x"}]);
    let first = group_answer["item"][0]["linkId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_only_error(&group_answer, &first, "takes no answer");
}

#[test]
fn wrong_form_or_version_is_refused_at_form_level() {
    let mut r = response(&[]);
    r["questionnaire"] = json!("https://forms.tessera.health/anc-visit|1.1.0");
    assert_only_error(
        &r,
        "",
        "answers version 1.1.0 of form 'anc-visit', but the current version is 1.2.0",
    );
    r["questionnaire"] = json!("https://forms.tessera.health/anc-visit");
    assert_only_error(&r, "", "must name the form version");
    r["questionnaire"] = json!("https://forms.tessera.health/pnc-visit|1.2.0");
    assert_only_error(
        &r,
        "",
        "is for questionnaire 'https://forms.tessera.health/pnc-visit'",
    );
    let mut r = response(&[]);
    r["status"] = json!("stopped");
    assert_only_error(&r, "", "status must be one of");
    r["status"] = json!("completed");
    r["authored"] = json!("2024-06-01T10:45:00");
    assert_only_error(&r, "", "authored must be");
    let errs = errors(&json!({"resourceType": "Patient"}));
    assert_eq!(
        errs[0].message,
        "Expected a QuestionnaireResponse, got \"Patient\"."
    );
}

#[test]
fn cross_field_constraints_report_their_message() {
    assert_only_error(
        &response(&[("diastolic", "130")]),
        "diastolic",
        "Diastolic must be lower than systolic.",
    );
    // Not checked until both are answered.
    assert!(anc()
        .validate(&response(&[("systolic", "")]), &context())
        .is_ok());
    // The form-level constraint reports with an empty linkId.
    assert_only_error(
        &response(&[("visit_date", "2023-12-01")]),
        "",
        "The visit must be after the last menstrual period.",
    );
    // Messages come in the requested language.
    let errs = anc()
        .validate_localized(
            &response(&[("diastolic", "130")]),
            &context(),
            &Locale::new("hi-IN"),
        )
        .unwrap_err();
    assert_eq!(errs[0].message, "डायस्टोलिक सिस्टोलिक से कम होना चाहिए।");
}

#[test]
fn clinical_score_is_calculated_from_choice_codes() {
    let r = response(&[
        ("first_pregnancy", "false"),
        ("previous_births", "1"),
        ("apgar_colour", "1"),
        ("apgar_pulse", "2"),
        ("apgar_grimace", "2"),
        ("apgar_tone", "1"),
        ("apgar_breathing", "2"),
    ]);
    let valid = anc().validate(&r, &context()).expect("valid");
    assert_eq!(
        answers_of(valid.questionnaire_response(), "apgar_previous"),
        [json!({"valueInteger": 8})]
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let errs = errors(&response(&[
        ("age", "5"),
        ("lmp", ""),
        ("phone", "1"),
        ("risk", "medium"),
    ]));
    let ids: Vec<&str> = errs.iter().map(|e| e.link_id.as_str()).collect();
    for id in ["age", "lmp", "phone", "risk"] {
        assert!(ids.contains(&id), "{errs:#?}");
    }
}
