//! The R4 search-parameter registry over real data: every parameter of every Synthea
//! resource evaluates, and selected parameters agree with values read straight from the JSON.

use std::collections::HashMap;

use serde_json::Value;
use tessera_core::fhir::schema::SchemaValidator;
use tessera_core::fhir::search::registry::SearchRegistry;

/// Every Synthea resource, with its bundle's `urn:uuid:` references rewritten to `Type/id` as
/// the server's transaction processing does.
fn synthea_resources() -> Vec<Value> {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/synthea");
    let mut out = Vec::new();
    for file in tessera_core::import::files_to_import(&dir).unwrap() {
        let bundle: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let entries = bundle["entry"].as_array().unwrap();
        let targets: HashMap<String, String> = entries
            .iter()
            .map(|e| {
                let full_url = e["fullUrl"].as_str().unwrap().to_string();
                let id = full_url.trim_start_matches("urn:uuid:").to_string();
                let ty = e["resource"]["resourceType"].as_str().unwrap();
                (full_url, format!("{ty}/{id}"))
            })
            .collect();
        for entry in entries {
            let mut resource = entry["resource"].clone();
            rewrite(&mut resource, &targets);
            out.push(resource);
        }
    }
    out
}

fn rewrite(value: &mut Value, targets: &HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(r) if key == "reference" => {
                        if let Some(t) = targets.get(r.as_str()) {
                            *r = t.clone();
                        }
                    }
                    other => rewrite(other, targets),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite(i, targets)),
        _ => {}
    }
}

#[test]
fn every_parameter_evaluates_on_synthea_and_agrees_with_the_json() {
    let schema = SchemaValidator::load();
    let registry = SearchRegistry::r4(schema.resource_types()).unwrap();
    let resources = synthea_resources();
    assert_eq!(resources.len(), 18_774);

    let mut values_per_param: HashMap<(String, String), usize> = HashMap::new();
    for resource in &resources {
        let ty = resource["resourceType"].as_str().unwrap();
        for param in registry.for_type(ty) {
            let Some(expr) = &param.expression else {
                continue;
            };
            let found = expr.evaluate(resource);
            *values_per_param
                .entry((ty.to_string(), param.code().to_string()))
                .or_default() += found.len();

            // Independent expectations, read from the JSON without FHIRPath.
            let expected: Option<Vec<&Value>> = match (ty, param.code()) {
                ("Patient", "birthdate") => Some(resource.get("birthDate").into_iter().collect()),
                ("Patient", "gender") => Some(resource.get("gender").into_iter().collect()),
                ("Observation", "code") => Some(vec![&resource["code"]]),
                ("Observation", "subject") => Some(resource.get("subject").into_iter().collect()),
                ("Observation", "patient") => Some(
                    resource
                        .get("subject")
                        .filter(|s| {
                            s["reference"]
                                .as_str()
                                .is_some_and(|r| r.starts_with("Patient/"))
                        })
                        .into_iter()
                        .collect(),
                ),
                ("Encounter", "date") => Some(resource.get("period").into_iter().collect()),
                ("Condition", "clinical-status") => {
                    Some(resource.get("clinicalStatus").into_iter().collect())
                }
                _ => None,
            };
            if let Some(expected) = expected {
                let got: Vec<&Value> = found.iter().map(|i| i.value).collect();
                assert_eq!(got, expected, "{ty}.{}", param.code());
            }
        }
    }
    // The commonest clinical parameters find values in this data.
    for (ty, code) in [
        ("Observation", "patient"),
        ("Observation", "code"),
        ("Observation", "date"),
        ("Observation", "value-quantity"),
        ("Encounter", "date"),
        ("Patient", "name"),
        ("MedicationRequest", "code"),
        ("Condition", "code"),
    ] {
        assert!(
            values_per_param[&(ty.to_string(), code.to_string())] > 0,
            "{ty}.{code} found nothing"
        );
    }
}

#[test]
fn index_entries_match_the_json() {
    use tessera_core::fhir::search::extract::{date_range, extract, normalize, IndexValue};
    let schema = SchemaValidator::load();
    let registry = SearchRegistry::r4(schema.resource_types()).unwrap();
    let (mut dates, mut quantities, mut names, mut patients) = (0, 0, 0, 0);
    for resource in synthea_resources() {
        let entries = extract(&registry, &resource);
        let of = |param: &str| {
            entries
                .iter()
                .filter(move |e| e.param == param)
                .map(|e| &e.value)
                .collect::<Vec<_>>()
        };
        match resource["resourceType"].as_str().unwrap() {
            "Observation" => {
                if let Some(t) = resource["effectiveDateTime"].as_str() {
                    let (low, high) = date_range(t).unwrap();
                    assert_eq!(of("date"), vec![&IndexValue::Date { low, high }]);
                    dates += 1;
                }
                if let Some(v) = resource["valueQuantity"]["value"].as_f64() {
                    assert!(of("value-quantity")
                        .iter()
                        .any(|q| matches!(q, IndexValue::Quantity { value, .. } if *value == v)));
                    quantities += 1;
                }
                let subject = resource["subject"]["reference"].as_str().unwrap();
                let id = subject.trim_start_matches("Patient/");
                assert_eq!(
                    of("patient"),
                    vec![&IndexValue::Reference {
                        target_type: Some("Patient".into()),
                        target_id: Some(id.into()),
                        url: subject.into()
                    }]
                );
                patients += 1;
            }
            "Patient" => {
                for name in resource["name"].as_array().unwrap() {
                    let family = normalize(name["family"].as_str().unwrap());
                    assert!(of("name").iter().any(|v| matches!(v, IndexValue::String { normalized, .. } if *normalized == family)));
                    assert!(of("family").iter().any(|v| matches!(v, IndexValue::String { normalized, .. } if *normalized == family)));
                    names += 1;
                }
            }
            "Encounter" => {
                let low = date_range(resource["period"]["start"].as_str().unwrap())
                    .unwrap()
                    .0;
                let high = date_range(resource["period"]["end"].as_str().unwrap())
                    .unwrap()
                    .1;
                assert_eq!(of("date"), vec![&IndexValue::Date { low, high }]);
            }
            _ => {}
        }
    }
    assert!(
        dates > 8000 && quantities > 5000 && names > 60 && patients > 8000,
        "{dates} {quantities} {names} {patients}"
    );
}
