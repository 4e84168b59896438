//! Checks every resource passes before it is written: the type, the id rules, the R4
//! structure (`schema.rs`) and well-formed references.

use axum::http::StatusCode;
use serde_json::Value;

use super::outcome::{FhirError, FhirResult, Issue};
use super::schema::SchemaValidator;

/// R4 `id`: 1-64 of `A-Z a-z 0-9 - .`
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// What the body's `id` must be.
#[derive(Clone, Copy)]
pub enum IdRule<'a> {
    /// Create: the server assigns the id, any id in the body is replaced.
    Assigned,
    /// Update: the body must carry the id of the URL.
    MustBe(&'a str),
}

/// Validates a resource body for type `ty`; the error names the offending element.
pub fn check_resource(
    schema: &SchemaValidator,
    ty: &str,
    body: &Value,
    id_rule: IdRule,
) -> FhirResult<()> {
    let object = body.as_object().ok_or_else(|| {
        FhirError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                "structure",
                "the body must be a JSON object (a FHIR resource)",
            ),
        )
    })?;
    match object.get("resourceType").and_then(Value::as_str) {
        None => {
            return Err(FhirError::new(
                StatusCode::BAD_REQUEST,
                Issue::error("required", "the resource has no resourceType").at(ty.to_string()),
            ))
        }
        Some(found) if found != ty => {
            return Err(FhirError::new(
                StatusCode::BAD_REQUEST,
                Issue::error(
                    "invalid",
                    format!("resourceType {found:?} does not match the URL's type {ty:?}"),
                )
                .at(format!("{ty}.resourceType")),
            ))
        }
        Some(_) => {}
    }
    if let IdRule::MustBe(url_id) = id_rule {
        match object.get("id") {
            None => {
                return Err(FhirError::new(
                    StatusCode::BAD_REQUEST,
                    Issue::error(
                        "required",
                        format!(
                            "an update must carry the resource id; expected \"id\": {url_id:?}"
                        ),
                    )
                    .at(format!("{ty}.id")),
                ))
            }
            Some(Value::String(body_id)) if body_id == url_id => {}
            Some(other) => {
                return Err(FhirError::new(
                    StatusCode::BAD_REQUEST,
                    Issue::error(
                        "invalid",
                        format!("the body's id {other} does not match the URL's id {url_id:?}"),
                    )
                    .at(format!("{ty}.id")),
                ))
            }
        }
    }
    let mut issues = match schema.validate(body) {
        Ok(()) => Vec::new(),
        Err(issues) => issues,
    };
    check_references(schema, ty, body, &mut issues);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(FhirError {
            status: StatusCode::BAD_REQUEST,
            issues,
        })
    }
}

/// Every `reference` must be a local `Type/id[/_history/vid]`, an absolute URL, a
/// `#fragment` naming a contained resource, or — inside a stored Bundle (a document, a
/// collection) — the `fullUrl` of one of its entries, which is how such Bundles link their
/// entries (`urn:uuid:...`). Conditional
/// references (`Type?query`) are resolved inside transactions before this check runs, so one
/// that reaches here was sent outside a transaction.
fn check_references(
    schema: &SchemaValidator,
    root: &str,
    resource: &Value,
    issues: &mut Vec<Issue>,
) {
    let contained: Vec<&str> = resource["contained"]
        .as_array()
        .map(|list| list.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default();
    let entry_urls: Vec<&str> = resource["entry"]
        .as_array()
        .filter(|_| root == "Bundle")
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["fullUrl"].as_str())
                .collect()
        })
        .unwrap_or_default();
    walk(resource, &mut root.to_string(), &mut |path, reference| {
        if entry_urls.contains(&reference) {
            return;
        }
        if let Some(problem) = reference_problem(schema, reference, &contained) {
            issues.push(Issue::error("value", format!("{path}: {problem}")).at(path.to_string()));
        }
    });
}

fn walk(value: &Value, path: &mut String, found: &mut dyn FnMut(&str, &str)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                if key == "reference" {
                    if let Value::String(reference) = child {
                        found(path, reference);
                    }
                } else {
                    walk(child, path, found);
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(child, path, found);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn reference_problem(
    schema: &SchemaValidator,
    reference: &str,
    contained: &[&str],
) -> Option<String> {
    if let Some(fragment) = reference.strip_prefix('#') {
        return (!fragment.is_empty() && !contained.contains(&fragment))
            .then(|| format!("reference {reference:?} names no contained resource"));
    }
    if reference.starts_with("urn:uuid:") || reference.starts_with("urn:oid:") {
        // Transactions rewrite these to real references first; one left over points nowhere.
        return Some(format!(
            "reference {reference:?} resolves to nothing: urn references are only allowed in a transaction Bundle whose entries have it as fullUrl"
        ));
    }
    if reference.starts_with("http://") || reference.starts_with("https://") {
        return url::Url::parse(reference)
            .err()
            .map(|e| format!("reference {reference:?} is not a valid URL ({e})"));
    }
    if let Some((ty, _)) = reference.split_once('?') {
        return Some(if schema.is_resource_type(ty) {
            format!(
                "conditional reference {reference:?} is only allowed inside a transaction Bundle"
            )
        } else {
            format!("reference {reference:?} names unknown resource type {ty:?}")
        });
    }
    let parts: Vec<&str> = reference.split('/').collect();
    let well_formed = match parts.as_slice() {
        [ty, id] => schema.is_resource_type(ty) && is_valid_id(id),
        [ty, id, "_history", vid] => {
            schema.is_resource_type(ty) && is_valid_id(id) && is_valid_id(vid)
        }
        _ => false,
    };
    (!well_formed).then(|| {
        format!("reference {reference:?} is malformed: use Type/id, an absolute URL, urn:uuid:..., or #contained-id")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids() {
        assert!(is_valid_id("abc-1.2"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id(&"x".repeat(65)));
    }

    #[test]
    fn references() {
        let schema = SchemaValidator::load();
        let check = |r: &str| reference_problem(&schema, r, &["c1"]);
        assert!(check("Patient/123").is_none());
        assert!(check("Patient/123/_history/2").is_none());
        assert!(check("https://other.org/fhir/Patient/1").is_none());
        assert!(check("urn:uuid:0b8f3c0e-7c4f-4c4e-9b1e-2c3d4e5f6a7b")
            .unwrap()
            .contains("transaction"));
        assert!(check("#c1").is_none());
        assert!(check("#nope").is_some());
        assert!(check("Patinet/123").is_some());
        assert!(check("Patient/a b").is_some());
        assert!(check("Patient").is_some());
        assert!(check("Patient?identifier=x")
            .unwrap()
            .contains("transaction"));

        // A document or collection Bundle links its entries by fullUrl.
        let urn = "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d";
        let collection = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": urn, "resource": {"resourceType": "Patient"}},
            {"fullUrl": "urn:uuid:11111111-4af5-424c-a0e1-ed3aab1c349d", "resource": {"resourceType": "Observation",
                "status": "final", "code": {"text": "x"}, "subject": {"reference": urn}}}]});
        assert!(check_resource(&schema, "Bundle", &collection, IdRule::Assigned).is_ok());
        let mut dangling = collection.clone();
        dangling["entry"][1]["resource"]["subject"]["reference"] =
            json!("urn:uuid:99999999-4af5-424c-a0e1-ed3aab1c349d");
        let err = check_resource(&schema, "Bundle", &dangling, IdRule::Assigned).unwrap_err();
        assert_eq!(
            err.issues[0].expression.as_deref(),
            Some("Bundle.entry[1].resource.subject.reference")
        );

        let body = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                          "subject": {"reference": "Patient/"}});
        let err = check_resource(&schema, "Observation", &body, IdRule::Assigned).unwrap_err();
        assert_eq!(
            err.issues[0].expression.as_deref(),
            Some("Observation.subject.reference")
        );
    }
}
