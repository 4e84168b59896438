//! A pack's requested permissions as the pages list them, one line per grant, and the
//! consent checkboxes built from them. Tessera grants a pack exactly what its version asks
//! for or nothing, so consent is every box ticked; a box left empty is sent on as a smaller
//! consent, which the lifecycle refuses with its own explanation.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tessera_plugins::manifest::RequestedPermissions;

use super::form::FormData;

/// One grant: its checkbox value (`fhir:Patient:read`, `http:<origin>`, `feature:<name>`)
/// and how the page words it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    pub value: String,
    pub text: String,
}

pub fn items(pack: &str, permissions: &RequestedPermissions) -> Vec<Item> {
    let mut out = Vec::new();
    for (ty, interactions) in &permissions.fhir {
        for interaction in interactions {
            out.push(Item {
                value: format!("fhir:{ty}:{}", interaction.as_str()),
                text: format!("FHIR {ty}: {}", interaction.as_str()),
            });
        }
    }
    for origin in &permissions.http {
        out.push(Item {
            value: format!("http:{origin}"),
            text: format!("Outbound HTTP to {origin}"),
        });
    }
    for (name, feature) in &permissions.features {
        let mut text = format!("Feature feature:{pack}.{name}");
        if !feature.description.is_empty() {
            text.push_str(&format!(" — {}", feature.description));
        }
        if !feature.roles.is_empty() {
            text.push_str(&format!(" (given to roles: {})", feature.roles.join(", ")));
        }
        out.push(Item {
            value: format!("feature:{name}"),
            text,
        });
    }
    out
}

/// The permissions as a list for a template.
pub fn view(pack: &str, permissions: &RequestedPermissions) -> Vec<Value> {
    items(pack, permissions)
        .into_iter()
        .map(|i| json!({"value": i.value, "text": i.text}))
        .collect()
}

/// The consent a form gives: the version's permissions less every box left empty.
pub fn consent_from(requested: &RequestedPermissions, form: &FormData) -> RequestedPermissions {
    let ticked: BTreeSet<&str> = form.all("consent").collect();
    let mut consent = requested.clone();
    for (ty, interactions) in consent.fhir.iter_mut() {
        interactions.retain(|i| ticked.contains(format!("fhir:{ty}:{}", i.as_str()).as_str()));
    }
    consent
        .fhir
        .retain(|_, interactions| !interactions.is_empty());
    consent
        .http
        .retain(|o| ticked.contains(format!("http:{o}").as_str()));
    consent
        .features
        .retain(|name, _| ticked.contains(format!("feature:{name}").as_str()));
    consent
}

/// The consent checkboxes, ticked as the form had them (none on first view).
pub fn checkboxes(
    pack: &str,
    requested: &RequestedPermissions,
    form: Option<&FormData>,
) -> Vec<Value> {
    let ticked: BTreeSet<&str> = form.map(|f| f.all("consent").collect()).unwrap_or_default();
    items(pack, requested)
        .into_iter()
        .enumerate()
        .map(|(n, i)| {
            json!({
                "id": format!("consent-{n}"),
                "checked": ticked.contains(i.value.as_str()),
                "value": i.value,
                "text": i.text,
            })
        })
        .collect()
}

/// What a move from `granted` to `requested` adds and takes away, as lines of text.
pub fn changes(
    pack: &str,
    granted: &RequestedPermissions,
    requested: &RequestedPermissions,
) -> (Vec<String>, Vec<String>) {
    let before: BTreeSet<Item> = items(pack, granted).into_iter().collect();
    let after: BTreeSet<Item> = items(pack, requested).into_iter().collect();
    (
        after.difference(&before).map(|i| i.text.clone()).collect(),
        before.difference(&after).map(|i| i.text.clone()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requested() -> RequestedPermissions {
        serde_json::from_value(json!({
            "fhir": {"Patient": ["read", "search"]},
            "http": ["https://api.example.org"],
            "features": {"greet": {"description": "Be greeted", "roles": ["clinician"]}}
        }))
        .unwrap()
    }

    fn ticked(values: &[&str]) -> FormData {
        FormData(
            values
                .iter()
                .map(|v| ("consent".to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn every_box_ticked_is_exactly_the_request() {
        let all: Vec<String> = items("greeter", &requested())
            .into_iter()
            .map(|i| i.value)
            .collect();
        assert_eq!(all.len(), 4);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(consent_from(&requested(), &ticked(&refs)), requested());
    }

    #[test]
    fn an_empty_box_is_a_smaller_consent() {
        let consent = consent_from(
            &requested(),
            &ticked(&[
                "fhir:Patient:read",
                "feature:greet",
                "http:https://evil.example",
            ]),
        );
        assert_ne!(consent, requested());
        assert_eq!(consent.fhir["Patient"].len(), 1);
        assert!(
            consent.http.is_empty(),
            "a value the pack did not ask for adds nothing"
        );
    }

    #[test]
    fn changes_list_what_is_added_and_removed() {
        let mut newer = requested();
        newer.http.push("https://other.example".into());
        newer.fhir.remove("Patient");
        let (added, removed) = changes("greeter", &requested(), &newer);
        assert_eq!(
            added,
            vec!["Outbound HTTP to https://other.example".to_string()]
        );
        assert_eq!(removed.len(), 2);
    }
}
