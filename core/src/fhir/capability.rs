//! The CapabilityStatement, generated from what this build supports: the resource types come
//! from the vendored R4 schema, the interactions from the lists below, which the router and
//! the engine implement (the REST, history and bundle tests exercise each one it names).

use serde_json::{json, Value};

use super::schema::SchemaValidator;

/// Type-level and instance-level interactions every resource type supports.
pub const TYPE_INTERACTIONS: &[&str] = &[
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
];
/// System-level interactions.
pub const SYSTEM_INTERACTIONS: &[&str] = &["transaction", "batch", "history-system"];
/// Search parameters usable in conditional interactions (full search arrives with issue #3).
pub const CONDITIONAL_PARAMS: &[(&str, &str)] = &[("_id", "token"), ("identifier", "token")];

pub fn capability_statement(schema: &SchemaValidator, base: &str, version: &str) -> Value {
    let resources: Vec<Value> = schema
        .resource_types()
        .map(|ty| {
            json!({
                "type": ty,
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{ty}"),
                "interaction": TYPE_INTERACTIONS.iter().map(|c| json!({"code": c})).collect::<Vec<_>>(),
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalRead": "not-match",
                "conditionalUpdate": true,
                "conditionalDelete": "single",
                "referencePolicy": ["literal", "logical"],
                "searchParam": CONDITIONAL_PARAMS.iter().map(|(name, kind)| json!({
                    "name": name,
                    "definition": format!("http://hl7.org/fhir/SearchParameter/{}", if *name == "_id" { "Resource-id" } else { "identifier" }),
                    "type": kind,
                    "documentation": "Usable in conditional create, update, delete and conditional references.",
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-21",
        "publisher": "Tessera",
        "kind": "instance",
        "software": { "name": "Tessera", "version": version },
        "implementation": { "description": "Tessera multi-tenant EMR core", "url": base },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [{
            "mode": "server",
            "documentation": "Tenant-scoped FHIR R4 endpoint. Sign-on arrives with issue #4.",
            "resource": resources,
            "interaction": SYSTEM_INTERACTIONS.iter().map(|c| json!({"code": c})).collect::<Vec<_>>(),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_type_and_validates_as_r4() {
        let schema = SchemaValidator::load();
        let cs = capability_statement(&schema, "http://x/t/a/fhir", "0.1.0");
        assert_eq!(cs["rest"][0]["resource"].as_array().unwrap().len(), 146);
        schema
            .validate(&cs)
            .expect("our CapabilityStatement is valid R4");
    }
}
