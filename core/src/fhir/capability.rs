//! The CapabilityStatement, generated from what this build supports: the resource types come
//! from the vendored R4 schema, the interactions from the lists below, which the router and
//! the engine implement (the REST, history and bundle tests exercise each one it names).

use serde_json::{json, Value};

use super::schema::SchemaValidator;
use super::search::registry::{ParamType, SearchRegistry};

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
    "search-type",
];
/// System-level interactions.
pub const SYSTEM_INTERACTIONS: &[&str] =
    &["transaction", "batch", "history-system", "search-system"];

/// The search parameters of `ty` this server evaluates (composite and special ones are not).
fn search_params(registry: &SearchRegistry, ty: &str) -> Vec<Value> {
    registry
        .for_type(ty)
        .filter(|p| p.expression.is_some())
        .filter(|p| match p.kind() {
            ParamType::Special => false,
            ParamType::Composite => registry.composite_kinds(p).is_some(),
            _ => true,
        })
        .map(|p| {
            json!({
                "name": p.code(),
                "definition": p.definition.url,
                "type": format!("{:?}", p.kind()).to_lowercase(),
            })
        })
        .collect()
}

/// `_include`/`_revinclude` values: every reference parameter of the type.
fn includes(registry: &SearchRegistry, ty: &str) -> Vec<String> {
    registry
        .for_type(ty)
        .filter(|p| p.kind() == ParamType::Reference && p.expression.is_some())
        .map(|p| format!("{ty}:{}", p.code()))
        .collect()
}

pub fn capability_statement(schema: &SchemaValidator, base: &str, version: &str) -> Value {
    let registry = SearchRegistry::shared();
    let resources: Vec<Value> = schema
        .resource_types()
        .map(|ty| {
            let mut resource = json!({
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
                "searchParam": search_params(&registry, ty),
            });
            // FHIR JSON forbids empty arrays.
            let included = includes(&registry, ty);
            if !included.is_empty() {
                resource["searchInclude"] = json!(included);
            }
            if ty == "Patient" {
                resource["operation"] = json!([{
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"
                }]);
            }
            let revincludes: Vec<String> = schema
                .resource_types()
                .flat_map(|source| includes(&registry, source))
                .filter(|inc| {
                    let (source, code) = inc.split_once(':').expect("Type:param");
                    registry
                        .get(source, code)
                        .is_some_and(|p| p.definition.target.iter().any(|t| t == ty))
                })
                .collect();
            if !revincludes.is_empty() {
                resource["searchRevInclude"] = json!(revincludes);
            }
            resource
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
        let patient = cs["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "Patient")
            .unwrap();
        let params: Vec<&str> = patient["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(params.contains(&"birthdate") && params.contains(&"_lastUpdated"));
        assert!(patient["searchRevInclude"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Observation:subject"));
        schema
            .validate(&cs)
            .expect("our CapabilityStatement is valid R4");
    }
}
