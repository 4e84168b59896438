//! Observation-based extraction: answers of items with an Observation code become
//! Observations for the patient and encounter, derived from the response.
//!
//! The response and its Observations are meant to be stored in one FHIR transaction Bundle:
//! [`ValidatedResponse::transaction_entries`] gives its entries. A new response gets the
//! `fullUrl` [`ValidatedResponse::full_url`] (`urn:uuid:…`) and each Observation its own
//! `urn:uuid:`, with `derivedFrom` pointing at the response's; the server's transaction
//! replaces those with the ids it assigns. A response that already has an `id` (an
//! amendment) is `PUT` to `QuestionnaireResponse/<id>` and referred to by that.

use serde_json::{json, Map, Value};

use crate::answers::Answers;
use crate::definition::{AnswerValue, Form, ItemType, ObservationTarget};
use crate::validate::ValidatedResponse;

/// One answer to extract, with what the Observation needs from its item.
#[derive(Debug, Clone)]
pub(crate) struct Extractable {
    pub target: ObservationTarget,
    pub item_type: ItemType,
    pub value: AnswerValue,
}

const CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

impl Form {
    /// The answers of enabled items that have an Observation code, one per answer.
    pub(crate) fn extractable(&self, answers: &Answers) -> Vec<Extractable> {
        let mut found = Vec::new();
        for flat in &self.flat {
            let item = self.item_at(&flat.path);
            let Some(target) = &item.observation else {
                continue;
            };
            for value in answers.get(&item.link_id) {
                found.push(Extractable {
                    target: target.clone(),
                    item_type: item.item_type,
                    value: value.clone(),
                });
            }
        }
        found
    }
}

impl ValidatedResponse {
    /// How Observations refer to the response: `QuestionnaireResponse/<id>` when it has an
    /// id, otherwise its `urn:uuid:` full URL.
    pub fn reference(&self) -> String {
        match self.response["id"].as_str() {
            Some(id) => format!("QuestionnaireResponse/{id}"),
            None => self.full_url.clone(),
        }
    }

    /// The Observations extracted from the response: status `final`, subject the patient,
    /// the encounter if given, effective when the response was authored, `derivedFrom` the
    /// response, and the value typed by the item (valueQuantity with its UCUM unit,
    /// valueInteger, valueBoolean, valueCodeableConcept, valueString, valueDateTime,
    /// valueTime). A repeating item gives one Observation per answer.
    pub fn extract(&self, patient_ref: &str, encounter_ref: Option<&str>) -> Vec<Value> {
        let derived_from = self.reference();
        self.extractable
            .iter()
            .map(|e| {
                let mut o = Map::new();
                o.insert("resourceType".into(), json!("Observation"));
                o.insert("status".into(), json!("final"));
                if let Some(category) = &e.target.category {
                    o.insert(
                        "category".into(),
                        json!([{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}]),
                    );
                }
                let code = &e.target.code;
                let mut coding = Map::new();
                if let Some(s) = &code.system {
                    coding.insert("system".into(), json!(s));
                }
                coding.insert("code".into(), json!(code.code));
                if let Some(d) = &code.display {
                    coding.insert("display".into(), json!(d));
                }
                let mut concept = json!({"coding": [coding]});
                if let Some(d) = &code.display {
                    concept["text"] = json!(d);
                }
                o.insert("code".into(), concept);
                o.insert("subject".into(), json!({"reference": patient_ref}));
                if let Some(encounter) = encounter_ref {
                    o.insert("encounter".into(), json!({"reference": encounter}));
                }
                o.insert("effectiveDateTime".into(), json!(self.authored));
                let (key, value) = observation_value(&e.value, e.item_type);
                o.insert(key.into(), value);
                o.insert("derivedFrom".into(), json!([{"reference": derived_from}]));
                Value::Object(o)
            })
            .collect()
    }

    /// Entries for one FHIR transaction Bundle: the response (with subject and encounter
    /// set), then its Observations, each with a `fullUrl` and a `request`.
    pub fn transaction_entries(
        &self,
        patient_ref: &str,
        encounter_ref: Option<&str>,
    ) -> Vec<Value> {
        let mut response = self.response.clone();
        response["subject"] = json!({"reference": patient_ref});
        if let Some(encounter) = encounter_ref {
            response["encounter"] = json!({"reference": encounter});
        }
        let response_entry = match self.response["id"].as_str() {
            Some(id) => {
                json!({"fullUrl": format!("QuestionnaireResponse/{id}"), "resource": response,
                               "request": {"method": "PUT", "url": format!("QuestionnaireResponse/{id}")}})
            }
            None => json!({"fullUrl": self.full_url, "resource": response,
                           "request": {"method": "POST", "url": "QuestionnaireResponse"}}),
        };
        let mut entries = vec![response_entry];
        entries.extend(self.extract(patient_ref, encounter_ref).into_iter().map(|observation| {
            json!({"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()), "resource": observation,
                   "request": {"method": "POST", "url": "Observation"}})
        }));
        entries
    }
}

fn observation_value(value: &AnswerValue, item_type: ItemType) -> (&'static str, Value) {
    match value {
        AnswerValue::Quantity { value, unit } => {
            let mut q = Map::new();
            q.insert("value".into(), crate::definition::json_number(*value));
            if let Some(u) = unit {
                q.insert(
                    "unit".into(),
                    json!(u.display.clone().unwrap_or_else(|| u.code.clone())),
                );
                if let Some(system) = &u.system {
                    q.insert("system".into(), json!(system));
                }
                q.insert("code".into(), json!(u.code));
            }
            ("valueQuantity", Value::Object(q))
        }
        // Observation has no valueDecimal: a plain number is a unitless valueQuantity.
        AnswerValue::Decimal(f) => (
            "valueQuantity",
            json!({"value": crate::definition::json_number(*f)}),
        ),
        AnswerValue::Integer(i) => ("valueInteger", json!(i)),
        AnswerValue::Boolean(b) => ("valueBoolean", json!(b)),
        AnswerValue::Coding(c) => {
            let mut coding = Map::new();
            if let Some(s) = &c.system {
                coding.insert("system".into(), json!(s));
            }
            coding.insert("code".into(), json!(c.code));
            if let Some(d) = &c.display {
                coding.insert("display".into(), json!(d));
            }
            ("valueCodeableConcept", json!({"coding": [coding]}))
        }
        // The free text of an open-choice is the text of a concept without a code.
        AnswerValue::String(s) if item_type == ItemType::OpenChoice => {
            ("valueCodeableConcept", json!({"text": s}))
        }
        AnswerValue::String(s) => ("valueString", json!(s)),
        AnswerValue::Date(s) | AnswerValue::DateTime(s) => ("valueDateTime", json!(s)),
        AnswerValue::Time(s) => ("valueTime", json!(s)),
    }
}
