//! Structural validation against HL7's official R4 JSON Schema (vendored in `core/fhir-r4`).
//!
//! The published schema selects a resource's definition with a 146-way `oneOf`, which is slow
//! and yields useless errors ("not valid under any of the given schemas"). At load we replace
//! that dispatch, for top-level resources and for `ResourceList` (contained resources, Bundle
//! entries, Parameters), with one `if resourceType = T then T's definition` per type. The
//! definitions themselves are used exactly as HL7 published them.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::outcome::Issue;

const SCHEMA: &str = include_str!("../../fhir-r4/fhir.schema.json");
/// More issues than this for one resource add noise, not help.
const MAX_ISSUES: usize = 20;

pub struct SchemaValidator {
    resource_types: BTreeSet<String>,
    validator: jsonschema::Validator,
}

impl SchemaValidator {
    pub fn load() -> SchemaValidator {
        let mut schema: Value = serde_json::from_str(SCHEMA).expect("vendored schema is JSON");
        let resource_types: BTreeSet<String> = schema["discriminator"]["mapping"]
            .as_object()
            .expect("schema has a discriminator mapping")
            .keys()
            .cloned()
            .collect();
        let dispatch: Vec<Value> = resource_types
            .iter()
            .map(|t| {
                json!({
                    "if": { "properties": { "resourceType": { "const": t } } },
                    "then": { "$ref": format!("#/definitions/{t}") }
                })
            })
            .collect();
        let definitions = schema["definitions"].as_object_mut().expect("schema has definitions");
        definitions.insert(
            "ResourceList".into(),
            json!({
                "type": "object",
                "required": ["resourceType"],
                "properties": { "resourceType": { "enum": resource_types.iter().collect::<Vec<_>>() } },
                "allOf": dispatch,
            }),
        );
        let root = json!({
            "definitions": schema["definitions"].take(),
            "allOf": [{ "$ref": "#/definitions/ResourceList" }],
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&root)
            .expect("vendored schema compiles");
        SchemaValidator { resource_types, validator }
    }

    pub fn is_resource_type(&self, name: &str) -> bool {
        self.resource_types.contains(name)
    }

    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resource_types.iter().map(String::as_str)
    }

    /// Checks a resource (whose `resourceType` is known) against its R4 definition.
    /// Issues name the offending element as a FHIRPath, e.g. `Patient.name[0].given`.
    pub fn validate(&self, resource: &Value) -> Result<(), Vec<Issue>> {
        let root = resource["resourceType"].as_str().unwrap_or("Resource");
        let issues: Vec<Issue> = self
            .validator
            .iter_errors(resource)
            .take(MAX_ISSUES)
            .map(|err| describe(root, &err))
            .collect();
        if issues.is_empty() { Ok(()) } else { Err(issues) }
    }
}

fn describe(root: &str, err: &jsonschema::ValidationError) -> Issue {
    use jsonschema::error::ValidationErrorKind as Kind;
    let path = fhir_path(root, err.instance_path.as_str());
    let (code, text) = match &err.kind {
        Kind::AdditionalProperties { unexpected } => (
            "structure",
            format!("unknown element(s) {} in {path}", unexpected.iter().map(|u| format!("'{u}'")).collect::<Vec<_>>().join(", ")),
        ),
        Kind::Required { property } => ("required", format!("{path}: missing required element {property}")),
        Kind::Pattern { .. } => (
            "value",
            format!("{path}: value {} does not have the format its FHIR type requires", err.instance),
        ),
        Kind::Type { .. } => ("structure", format!("{path}: {err}")),
        Kind::Enum { .. } | Kind::Constant { .. } => ("value", format!("{path}: {err}")),
        _ => ("structure", format!("{path}: {err}")),
    };
    let mut issue = Issue::error(code, text).at(path.clone());
    // For missing elements, point at the element itself.
    if let Kind::Required { property } = &err.kind {
        if let Some(name) = property.as_str() {
            issue.expression = Some(if path == root { format!("{root}.{name}") } else { format!("{path}.{name}") });
        }
    }
    issue
}

/// `/name/0/given` under `Patient` becomes `Patient.name[0].given`.
pub fn fhir_path(root: &str, pointer: &str) -> String {
    let mut out = root.to_string();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            out.push('.');
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn validator() -> &'static SchemaValidator {
        static V: OnceLock<SchemaValidator> = OnceLock::new();
        V.get_or_init(SchemaValidator::load)
    }

    #[test]
    fn knows_the_r4_resource_types() {
        let v = validator();
        assert_eq!(v.resource_types().count(), 146);
        assert!(v.is_resource_type("Patient"));
        assert!(!v.is_resource_type("Project"));
    }

    #[test]
    fn valid_patient_passes() {
        let p = json!({"resourceType": "Patient", "name": [{"family": "Doe", "given": ["J"]}], "birthDate": "1970-01-01"});
        assert!(validator().validate(&p).is_ok());
    }

    #[test]
    fn errors_name_the_path() {
        let p = json!({"resourceType": "Patient", "name": [{"given": "J"}], "birthDate": "1970-13-01", "colour": "red"});
        let issues = validator().validate(&p).unwrap_err();
        let paths: Vec<_> = issues.iter().filter_map(|i| i.expression.clone()).collect();
        assert!(paths.contains(&"Patient.name[0].given".to_string()), "{paths:?}");
        assert!(paths.contains(&"Patient.birthDate".to_string()), "{paths:?}");
        assert!(issues.iter().any(|i| i.diagnostics.contains("'colour'")), "{issues:?}");
    }

    #[test]
    fn contained_resources_are_checked_by_their_own_type() {
        let p = json!({"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o", "active": "yes"}]});
        let issues = validator().validate(&p).unwrap_err();
        assert_eq!(issues[0].expression.as_deref(), Some("Patient.contained[0].active"), "{issues:?}");
    }

    #[test]
    fn missing_required_element() {
        let o = json!({"resourceType": "Observation", "status": "final"});
        let issues = validator().validate(&o).unwrap_err();
        assert_eq!(issues[0].expression.as_deref(), Some("Observation.code"), "{issues:?}");
    }
}
