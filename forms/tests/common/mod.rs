//! Shared helpers of the integration tests.
#![allow(dead_code)]

use serde_json::Value;
use tessera_forms::Form;

/// The example form with every item type (tests/forms/anc-visit.yaml).
pub fn anc() -> Form {
    let text = include_str!("../forms/anc-visit.yaml");
    Form::from_yaml("tests/forms/anc-visit.yaml", text)
        .unwrap_or_else(|issues| panic!("anc-visit.yaml: {issues:#?}"))
}

/// Finds an item by linkId in a Questionnaire or QuestionnaireResponse item list.
pub fn find_item<'a>(items: &'a Value, link_id: &str) -> Option<&'a Value> {
    for item in items.as_array()? {
        if item["linkId"] == link_id {
            return Some(item);
        }
        if let Some(found) = find_item(&item["item"], link_id) {
            return Some(found);
        }
    }
    None
}

use tessera_forms::{LogicContext, ResponseMeta};

/// The context of the tests: 1 June 2024, a woman born 10 February 1993 (31 years old),
/// whose latest weight on record is 61 kg.
pub fn context() -> LogicContext {
    let patient = serde_json::json!({"resourceType": "Patient", "birthDate": "1993-02-10", "gender": "female"});
    let weight = serde_json::json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "effectiveDateTime": "2024-05-01", "valueQuantity": {"value": 61, "unit": "kg"}});
    LogicContext::from_resources(
        time::macros::date!(2024 - 06 - 01),
        Some(&patient),
        &[weight],
    )
}

/// Submission metadata used by the tests.
pub fn meta() -> ResponseMeta {
    ResponseMeta {
        status: "completed".into(),
        authored: "2024-06-01T10:45:00+05:30".into(),
        subject: Some("Patient/p1".into()),
        encounter: Some("Encounter/e1".into()),
        time_zone: "+05:30".into(),
    }
}

/// A complete, valid set of posted fields for anc-visit, with `changes` applied: a pair
/// replaces every field of that name (an empty value removes it), a new name is added.
pub fn fields(changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let base = [
        ("_csrf", "token"),
        ("age", "31"),
        ("lmp", "2024-01-01"),
        ("visit_date", "2024-06-01"),
        ("first_pregnancy", "true"),
        ("weight", "62"),
        ("weight.unit", "kg"),
        ("height", "1.6"),
        ("systolic", "120"),
        ("diastolic", "80"),
        ("measured_at", "2024-06-01T10:30"),
        ("measured_time", "10:35"),
        ("symptoms", "headache"),
        ("risk", "low"),
        ("phone", "9876543210"),
        ("notes", "<script>alert('x')</script> & more"),
    ];
    let mut out: Vec<(String, String)> = base
        .iter()
        .filter(|(name, _)| !changes.iter().any(|(n, _)| n == name))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    for (name, value) in changes {
        if !value.is_empty() {
            out.push((name.to_string(), value.to_string()));
        }
    }
    out
}

/// A QuestionnaireResponse for anc-visit built from `fields(changes)`.
pub fn response(changes: &[(&str, &str)]) -> Value {
    anc().response_from_form_fields(&fields(changes), &meta())
}

/// The answers of one item in a QuestionnaireResponse.
pub fn answers_of<'a>(response: &'a Value, link_id: &str) -> &'a [Value] {
    find_item(&response["item"], link_id)
        .and_then(|i| i["answer"].as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
}
