//! The YAML ↔ Questionnaire mapping.

mod common;

use serde_json::json;
use tessera_forms::{Form, Locale};

#[test]
fn yaml_to_questionnaire_to_form_to_questionnaire_is_stable() {
    let form = common::anc();
    let first = form.to_questionnaire();
    let again = Form::from_questionnaire(&first).expect("reads its own Questionnaire");
    let second = again.to_questionnaire();
    assert_eq!(first, second);
    assert_eq!(again.title(&Locale::new("hi")), "प्रसवपूर्व देखभाल जाँच");
    assert_eq!(
        again.canonical(),
        "https://forms.tessera.health/anc-visit|1.2.0"
    );
}

#[test]
fn questionnaire_uses_sdc_extensions() {
    let q = common::anc().to_questionnaire();
    let item = |id: &str| common::find_item(&q["item"], id).unwrap_or_else(|| panic!("item {id}"));
    let ext = |id: &str, url_end: &str| {
        item(id)["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"].as_str().unwrap().ends_with(url_end))
            .cloned()
            .unwrap_or_else(|| panic!("{id} has {url_end}"))
    };
    assert_eq!(q["version"], "1.2.0");
    assert_eq!(
        q["_title"]["extension"][0]["extension"][0]["valueCode"],
        "hi"
    );
    assert_eq!(ext("age", "/minValue")["valueInteger"], 10);
    assert_eq!(
        ext("weight", "sdc-questionnaire-maxQuantity")["valueQuantity"]["value"],
        200
    );
    assert_eq!(
        ext("weight", "questionnaire-unitOption")["valueCoding"]["code"],
        "kg"
    );
    assert_eq!(
        ext("weight", "sdc-questionnaire-observationExtract")["valueBoolean"],
        true
    );
    assert_eq!(item("weight")["code"][0]["code"], "29463-7");
    assert_eq!(
        ext("weight", "sdc-questionnaire-initialExpression")["valueExpression"],
        json!({"language": "application/json-logic", "expression": r#"{"observation":["http://loinc.org","29463-7"]}"#})
    );
    assert_eq!(
        ext("bmi", "sdc-questionnaire-calculatedExpression")["valueExpression"]["language"],
        "application/json-logic"
    );
    assert_eq!(
        ext("referral_reason", "sdc-questionnaire-enableWhenExpression")["valueExpression"]
            ["expression"],
        r#"{"==":[{"var":"risk"},"high"]}"#
    );
    assert_eq!(ext("phone", "/regex")["valueString"], "[0-9]{10}");
    assert_eq!(ext("phone", "/entryFormat")["valueString"], "10 digits");
    assert_eq!(item("phone")["maxLength"], 10);
    assert_eq!(
        ext("history", "questionnaire-itemControl")["valueCodeableConcept"]["coding"][0]["code"],
        "page"
    );
    assert_eq!(
        ext("diastolic", "targetConstraint")["extension"][0]["valueId"],
        "bp-order"
    );
    assert_eq!(item("lmp")["item"][0]["linkId"], "lmp-help");
    assert_eq!(
        item("lmp")["item"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "help"
    );
    assert_eq!(
        item("previous_births")["enableWhen"][0],
        json!({"question": "first_pregnancy", "operator": "=", "answerBoolean": false})
    );
    assert_eq!(item("apgar_breathing")["enableBehavior"], "all");
    assert_eq!(
        item("fever_days")["enableWhen"][0]["answerCoding"]["code"],
        "fever"
    );
    assert_eq!(item("risk")["answerValueSet"], "#risk-levels");
    assert_eq!(item("first_pregnancy")["initial"][0]["valueBoolean"], false);
    assert_eq!(item("symptoms")["repeats"], true);
    assert_eq!(
        item("symptoms")["answerOption"][0]["valueCoding"]["_display"]["extension"][0]["extension"]
            [1]["valueString"],
        "योनि से रक्तस्राव"
    );
    let contained = q["contained"].as_array().unwrap();
    assert_eq!(contained[0]["resourceType"], "CodeSystem");
    assert_eq!(
        contained[0]["concept"][1]["designation"][0]["value"],
        "उच्च जोखिम"
    );
    assert_eq!(
        contained[1]["compose"]["include"][0]["system"],
        "https://forms.tessera.health/cs/risk-levels"
    );
    assert_eq!(
        q["extension"][0]["url"],
        "http://hl7.org/fhir/StructureDefinition/targetConstraint"
    );
}

#[test]
fn unsupported_questionnaire_content_is_named() {
    let q = json!({"resourceType": "Questionnaire", "id": "x", "version": "1.0.0", "title": "X", "status": "active",
    "item": [
        {"linkId": "photo", "type": "attachment", "text": "Photo"},
        {"linkId": "score", "type": "integer", "text": "Score", "extension": [
            {"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",
             "valueExpression": {"language": "text/fhirpath", "expression": "1 + 1"}}]},
        {"linkId": "ok", "type": "string", "text": "Fine"}
    ]});
    let issues = Form::from_questionnaire(&q).unwrap_err();
    let texts: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
    assert!(texts.iter().any(|t| t.contains("item[0] 'photo'") && t.contains("\"attachment\" is not supported")), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("item[1] 'score'") && t.contains("text/fhirpath")),
        "{texts:?}"
    );
    let not_q = Form::from_questionnaire(&json!({"resourceType": "Patient"})).unwrap_err();
    assert!(not_q[0].message.contains("expected a Questionnaire"));
}
