//! Observation extraction and the transaction Bundle entries.

mod common;

use common::{anc, context, response};
use serde_json::{json, Value};
use tessera_forms::{status, Form};

fn by_code<'a>(observations: &'a [Value], code: &str) -> Vec<&'a Value> {
    observations
        .iter()
        .filter(|o| o["code"]["coding"][0]["code"] == code)
        .collect()
}

#[test]
fn marked_items_become_observations_typed_by_item() {
    let mut fields = common::fields(&[]);
    fields.push(("symptoms".into(), "fever".into()));
    fields.push(("fever_days".into(), "2".into()));
    let valid = anc()
        .validate(
            &anc().response_from_form_fields(&fields, &common::meta()),
            &context(),
        )
        .unwrap();
    let observations = valid.extract("Patient/p1", Some("Encounter/e1"));

    let weight = by_code(&observations, "29463-7")[0];
    assert_eq!(weight["resourceType"], "Observation");
    assert_eq!(weight["status"], "final");
    assert_eq!(weight["category"][0]["coding"][0]["code"], "vital-signs");
    assert_eq!(weight["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(weight["subject"]["reference"], "Patient/p1");
    assert_eq!(weight["encounter"]["reference"], "Encounter/e1");
    assert_eq!(weight["effectiveDateTime"], "2024-06-01T10:45:00+05:30");
    assert_eq!(
        weight["valueQuantity"],
        json!({"value": 62, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"})
    );
    assert_eq!(weight["derivedFrom"][0]["reference"], valid.full_url());
    assert!(valid.full_url().starts_with("urn:uuid:"));

    assert_eq!(
        by_code(&observations, "39156-5")[0]["valueQuantity"],
        json!({"value": 24.2}),
        "calculated BMI"
    );
    assert_eq!(by_code(&observations, "8480-6")[0]["valueInteger"], 120);
    let risk = by_code(&observations, "75323-6")[0];
    assert_eq!(
        risk["valueCodeableConcept"]["coding"][0],
        json!({"system": "https://forms.tessera.health/cs/risk-levels", "code": "low", "display": "Low risk"})
    );
    // A repeating item gives one Observation per answer.
    let symptoms = by_code(&observations, "418799008");
    let codes: Vec<&Value> = symptoms
        .iter()
        .map(|o| &o["valueCodeableConcept"]["coding"][0]["code"])
        .collect();
    assert_eq!(codes, [&json!("headache"), &json!("fever")]);
    // Items without an Observation code (diastolic, notes) give none.
    assert_eq!(observations.len(), 7, "{observations:#?}");
}

#[test]
fn every_value_type_maps_to_its_observation_value() {
    let yaml = r#"
id: types
version: 1.0.0
title: Types
items:
  - {linkId: smoker, type: boolean, text: Smoker, observation: {system: http://loinc.org, code: 72166-2}}
  - {linkId: comment, type: string, text: Comment, observation: {system: http://example.org, code: comment}}
  - {linkId: onset, type: date, text: Onset, observation: {system: http://example.org, code: onset}}
  - {linkId: seen, type: dateTime, text: Seen, observation: {system: http://example.org, code: seen}}
  - {linkId: dose_time, type: time, text: Dose time, observation: {system: http://example.org, code: dose}}
  - {linkId: clinic, type: open-choice, text: Clinic, options: [PHC], observation: {system: http://example.org, code: clinic}}
  - {linkId: count, type: integer, text: Count, observation: {system: http://example.org, code: count}}
"#;
    let form = Form::from_yaml("types.yaml", yaml).unwrap();
    let fields: Vec<(String, String)> = [
        ("smoker", "false"),
        ("comment", "none"),
        ("onset", "2024-05-30"),
        ("seen", "2024-05-31T09:00"),
        ("dose_time", "08:00"),
        ("clinic", "Mission hospital"),
        ("count", "3"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let response = form.response_from_form_fields(&fields, &common::meta());
    let valid = form.validate(&response, &context()).unwrap();
    let observations = valid.extract("Patient/p1", None);
    let value = |code: &str, key: &str| by_code(&observations, code)[0][key].clone();
    assert_eq!(value("72166-2", "valueBoolean"), json!(false));
    assert_eq!(value("comment", "valueString"), json!("none"));
    assert_eq!(value("onset", "valueDateTime"), json!("2024-05-30"));
    assert_eq!(
        value("seen", "valueDateTime"),
        json!("2024-05-31T09:00:00+05:30")
    );
    assert_eq!(value("dose", "valueTime"), json!("08:00:00"));
    assert_eq!(
        value("clinic", "valueCodeableConcept"),
        json!({"text": "Mission hospital"})
    );
    assert_eq!(value("count", "valueInteger"), json!(3));
    assert!(by_code(&observations, "count")[0]
        .get("encounter")
        .is_none());
}

#[test]
fn transaction_entries_reference_the_response_by_urn_uuid() {
    let valid = anc().validate(&response(&[]), &context()).unwrap();
    let entries = valid.transaction_entries("Patient/p1", Some("Encounter/e1"));
    assert_eq!(entries[0]["fullUrl"], valid.full_url());
    assert_eq!(
        entries[0]["request"],
        json!({"method": "POST", "url": "QuestionnaireResponse"})
    );
    assert_eq!(
        entries[0]["resource"]["resourceType"],
        "QuestionnaireResponse"
    );
    assert_eq!(
        entries[0]["resource"]["encounter"]["reference"],
        "Encounter/e1"
    );
    let mut urls = std::collections::HashSet::new();
    for entry in &entries[1..] {
        assert!(entry["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"));
        assert!(urls.insert(entry["fullUrl"].clone()), "fullUrls are unique");
        assert_eq!(entry["request"]["method"], "POST");
        assert_eq!(
            entry["resource"]["derivedFrom"][0]["reference"],
            valid.full_url()
        );
    }
    // An amended response keeps its id and is PUT; Observations refer to it by id.
    let mut amended = response(&[("weight", "63")]);
    amended["id"] = json!("qr1");
    amended["status"] = json!("amended");
    let valid = anc().validate(&amended, &context()).unwrap();
    let entries = valid.transaction_entries("Patient/p1", None);
    assert_eq!(
        entries[0]["request"],
        json!({"method": "PUT", "url": "QuestionnaireResponse/qr1"})
    );
    assert_eq!(
        entries[1]["resource"]["derivedFrom"][0]["reference"],
        "QuestionnaireResponse/qr1"
    );
    let withdrawn = status::entered_in_error(&entries[0]["resource"]);
    assert_eq!(withdrawn["status"], "entered-in-error");
    assert_eq!(withdrawn["id"], "qr1");
}

#[test]
fn prefill_reads_patient_data_and_latest_observations() {
    let form = anc();
    let needs = form.prefill_needs();
    assert!(needs.patient);
    assert_eq!(needs.observations.len(), 1);
    assert_eq!(needs.observations[0].code, "29463-7");
    assert_eq!(
        needs.observations[0].system.as_deref(),
        Some("http://loinc.org")
    );
    let prefill = form.prefill(&context());
    assert_eq!(
        prefill.get("age"),
        [tessera_forms::AnswerValue::Integer(31)]
    );
    match &prefill.get("weight")[0] {
        tessera_forms::AnswerValue::Quantity { value, unit } => {
            assert_eq!(*value, 61.0);
            assert_eq!(unit.as_ref().unwrap().code, "kg");
        }
        other => panic!("weight prefill is a quantity, got {other:?}"),
    }
    // Sex and birth date prefill choices and dates.
    let yaml = "id: p\nversion: 1.0.0\ntitle: P\nitems:\n  - {linkId: sex, type: choice, options: [female, male, other, unknown], prefill: {var: patient.sex}}\n  - {linkId: born, type: date, prefill: {var: patient.birthDate}}\n  - {linkId: months, type: integer, prefill: {var: patient.ageInMonths}}\n";
    let small = Form::from_yaml("p.yaml", yaml).unwrap();
    assert!(small.prefill_needs().patient);
    assert!(small.prefill_needs().observations.is_empty());
    let prefill = small.prefill(&context());
    match &prefill.get("sex")[0] {
        tessera_forms::AnswerValue::Coding(c) => assert_eq!(c.code, "female"),
        other => panic!("sex prefill is a coding, got {other:?}"),
    }
    assert_eq!(
        prefill.get("born"),
        [tessera_forms::AnswerValue::Date("1993-02-10".into())]
    );
    assert_eq!(
        prefill.get("months"),
        [tessera_forms::AnswerValue::Integer(375)]
    );
    // Without a patient or observations there is nothing to prefill.
    let empty = form.prefill(&tessera_forms::LogicContext::new(time::macros::date!(
        2024 - 06 - 01
    )));
    assert!(empty.is_empty());
}
