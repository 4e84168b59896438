//! `_summary` and `_elements`: returning part of each matched resource. Subsetted resources
//! carry the `SUBSETTED` tag, as the specification requires, so clients never mistake them
//! for the whole resource.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::request::Summary;

const SUMMARY_ELEMENTS: &str = include_str!("../../../fhir-r4/summary-elements.json");

/// The top-level elements HL7 marks `isSummary`, per resource type.
fn summary_elements(ty: &str) -> Option<&'static HashSet<String>> {
    static BY_TYPE: OnceLock<HashMap<String, HashSet<String>>> = OnceLock::new();
    BY_TYPE
        .get_or_init(|| serde_json::from_str(SUMMARY_ELEMENTS).expect("vendored JSON"))
        .get(ty)
}

/// Elements every subset keeps.
const ALWAYS: &[&str] = &["resourceType", "id", "meta"];

/// Whether JSON key `key` is element `name` (choice elements: `deceased` covers
/// `deceasedBoolean` and `deceasedDateTime`).
fn is_element(key: &str, name: &str) -> bool {
    key == name
        || key
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
        || key.strip_prefix('_') == Some(name)
}

/// The resource as `_summary` and `_elements` ask for it (unchanged when neither applies).
pub fn shape(mut resource: Value, summary: Option<Summary>, elements: &[String]) -> Value {
    let ty = resource["resourceType"].as_str().unwrap_or("").to_string();
    type Keep = Box<dyn Fn(&str) -> bool>;
    let keep: Option<Keep> = match summary {
        Some(Summary::True) => {
            let allowed = summary_elements(&ty);
            Some(Box::new(move |key: &str| {
                allowed.is_some_and(|a| a.iter().any(|n| is_element(key, n)))
            }))
        }
        Some(Summary::Text) => Some(Box::new(|key: &str| key == "text")),
        Some(Summary::Data) => {
            if let Some(o) = resource.as_object_mut() {
                o.remove("text");
            }
            return tag_subsetted(resource);
        }
        _ if !elements.is_empty() => {
            let elements = elements.to_vec();
            Some(Box::new(move |key: &str| {
                elements.iter().any(|n| is_element(key, n))
            }))
        }
        _ => None,
    };
    let Some(keep) = keep else {
        return resource;
    };
    if let Some(object) = resource.as_object_mut() {
        object.retain(|key, _| ALWAYS.contains(&key.as_str()) || keep(key));
    }
    tag_subsetted(resource)
}

fn tag_subsetted(mut resource: Value) -> Value {
    let meta = resource
        .as_object_mut()
        .map(|o| o.entry("meta").or_insert_with(|| json!({})));
    if let Some(meta) = meta {
        let tags = meta
            .as_object_mut()
            .map(|m| m.entry("tag").or_insert_with(|| json!([])));
        if let Some(Value::Array(tags)) = tags {
            tags.push(json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                "code": "SUBSETTED",
                "display": "subsetted"
            }));
        }
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_keeps_summary_elements_and_tags() {
        let p = json!({"resourceType": "Patient", "id": "p", "text": {"div": "x"},
                       "name": [{"family": "A"}], "deceasedBoolean": false,
                       "photo": [{"url": "x"}], "contact": [{}]});
        let s = shape(p.clone(), Some(Summary::True), &[]);
        assert!(s.get("name").is_some() && s.get("deceasedBoolean").is_some());
        assert!(s.get("photo").is_none() && s.get("contact").is_none() && s.get("text").is_none());
        assert_eq!(s["meta"]["tag"][0]["code"], "SUBSETTED");
        let e = shape(p.clone(), None, &["name".into()]);
        assert_eq!(
            e.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["resourceType", "id", "name", "meta"]
        );
        assert_eq!(shape(p.clone(), None, &[]), p);
        assert!(shape(p, Some(Summary::Data), &[]).get("text").is_none());
    }
}
