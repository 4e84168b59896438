//! What the server knows about the patient, in the shape rules read.

use serde_json::{json, Map, Value};
use time::Date;

use super::dates;
use crate::Coding;

/// Patient facts a form may read (prefill and logic), supplied by the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatientFacts {
    /// `Patient.birthDate`.
    pub birth_date: Option<Date>,
    /// `Patient.gender` (FHIR administrative gender: `female`, `male`, `other`, `unknown`).
    pub sex: Option<String>,
}

impl PatientFacts {
    /// Reads the facts from a FHIR Patient resource.
    pub fn from_patient(patient: &Value) -> PatientFacts {
        PatientFacts {
            birth_date: patient["birthDate"].as_str().and_then(dates::parse),
            sex: patient["gender"].as_str().map(str::to_string),
        }
    }
}

/// The latest value of one Observation code, supplied by the server for prefill.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationFact {
    /// The Observation's code (the one a form asked for in [`crate::PrefillNeeds`]).
    pub code: Coding,
    /// The value as rules see it: a number for valueQuantity/valueInteger, text, true/false,
    /// or the code of a valueCodeableConcept.
    pub value: Value,
    /// `effectiveDateTime`, used to keep the latest when several are given.
    pub effective: Option<String>,
}

impl ObservationFact {
    /// Reads an Observation resource; one fact per coding of its code (so a look-up by any
    /// of them finds it). Gives nothing when the Observation has no usable value.
    pub fn from_observation(observation: &Value) -> Vec<ObservationFact> {
        let value = if let Some(q) = observation.get("valueQuantity") {
            q["value"].clone()
        } else if let Some(v) = observation.get("valueInteger") {
            v.clone()
        } else if let Some(v) = observation.get("valueBoolean") {
            v.clone()
        } else if let Some(v) = observation.get("valueString") {
            v.clone()
        } else if let Some(v) = observation.get("valueDateTime") {
            v.clone()
        } else if let Some(cc) = observation.get("valueCodeableConcept") {
            cc["coding"][0]["code"].clone()
        } else {
            Value::Null
        };
        if value.is_null() {
            return Vec::new();
        }
        let effective = observation["effectiveDateTime"]
            .as_str()
            .or_else(|| observation["effectivePeriod"]["start"].as_str())
            .map(str::to_string);
        observation["code"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(ObservationFact {
                    code: Coding {
                        system: c["system"].as_str().map(str::to_string),
                        code: c["code"].as_str()?.to_string(),
                        display: None,
                    },
                    value: value.clone(),
                    effective: effective.clone(),
                })
            })
            .collect()
    }
}

/// Everything besides the answers that rules may read: today's date, the patient and their
/// latest Observations. The server builds one per request.
#[derive(Debug, Clone, PartialEq)]
pub struct LogicContext {
    /// Today's date where the clinic is: ages, gestational age and `{"var": "today"}` use it.
    pub today: Date,
    /// The patient, if the form is filled for one.
    pub patient: Option<PatientFacts>,
    /// Latest Observations for the codes in [`crate::PrefillNeeds::observations`].
    pub observations: Vec<ObservationFact>,
}

impl LogicContext {
    /// A context with only a date (no patient).
    pub fn new(today: Date) -> LogicContext {
        LogicContext {
            today,
            patient: None,
            observations: Vec::new(),
        }
    }

    /// Builds the context from FHIR resources: the Patient and any Observations the server
    /// found (several per code are fine; the one with the latest `effectiveDateTime` wins).
    pub fn from_resources(today: Date, patient: Option<&Value>, observations: &[Value]) -> Self {
        LogicContext {
            today,
            patient: patient.map(PatientFacts::from_patient),
            observations: observations
                .iter()
                .flat_map(ObservationFact::from_observation)
                .collect(),
        }
    }

    /// The data object rules see, before answers are added:
    /// `{"today": "2024-05-01", "patient": {"birthDate", "age", "ageInMonths", "sex"},
    ///   "observations": {"<system>|<code>": value}}`.
    pub fn to_data(&self) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("today".into(), json!(dates::format(self.today)));
        if let Some(p) = &self.patient {
            let mut patient = Map::new();
            if let Some(born) = p.birth_date {
                patient.insert("birthDate".into(), json!(dates::format(born)));
                patient.insert("age".into(), json!(dates::years_between(born, self.today)));
                patient.insert(
                    "ageInMonths".into(),
                    json!(dates::months_between(born, self.today)),
                );
            }
            if let Some(sex) = &p.sex {
                patient.insert("sex".into(), json!(sex));
            }
            data.insert("patient".into(), Value::Object(patient));
        }
        let mut latest: Map<String, Value> = Map::new();
        let mut when: std::collections::HashMap<String, Option<&str>> = Default::default();
        for fact in &self.observations {
            let key = format!(
                "{}|{}",
                fact.code.system.as_deref().unwrap_or_default(),
                fact.code.code
            );
            let newer = match when.get(&key) {
                None => true,
                Some(previous) => fact.effective.as_deref() > *previous,
            };
            if newer {
                when.insert(key.clone(), fact.effective.as_deref());
                latest.insert(key, fact.value.clone());
            }
        }
        data.insert("observations".into(), Value::Object(latest));
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn builds_patient_data_and_keeps_latest_observation() {
        let patient =
            json!({"resourceType": "Patient", "birthDate": "1990-06-15", "gender": "female"});
        let weight = |v: f64, when: &str| {
            json!({"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                   "effectiveDateTime": when, "valueQuantity": {"value": v, "unit": "kg"}})
        };
        let ctx = LogicContext::from_resources(
            date!(2024 - 06 - 14),
            Some(&patient),
            &[
                weight(61.0, "2024-05-01"),
                weight(63.5, "2024-06-01"),
                weight(60.0, "2024-01-01"),
            ],
        );
        let data = Value::Object(ctx.to_data());
        assert_eq!(data["today"], "2024-06-14");
        assert_eq!(data["patient"]["age"], 33);
        assert_eq!(data["patient"]["sex"], "female");
        assert_eq!(data["observations"]["http://loinc.org|29463-7"], 63.5);
    }
}
