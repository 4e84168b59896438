//! A caller's [`Grant`] applied to FHIR data: which searches they may run and which
//! resources they may see. The engine, search and history all call these, so one policy
//! holds on every read path (including `_include`, `_revinclude`, paging links and
//! `$everything`).

use serde_json::Value;

use super::outcome::{FhirError, FhirResult, Issue};
use super::search::execute::{patient_compartment_params, Scope};
use super::search::extract::{param_values, IndexValue};
use super::search::registry::SearchRegistry;
use super::search::request::{Filter, SearchRequest};
use crate::auth::rbac::{Action, Grant, Reach};
use axum::http::StatusCode;

/// Is `resource` (of type `ty`) in the compartment of Patient `patient`? The Patient
/// itself is; other types are when one of their compartment parameters (HL7's patient
/// CompartmentDefinition) references that Patient.
pub fn in_patient_compartment(
    registry: &SearchRegistry,
    ty: &str,
    resource: &Value,
    patient: &str,
) -> bool {
    if ty == "Patient" {
        return resource["id"].as_str() == Some(patient);
    }
    let Some(params) = patient_compartment_params(ty) else {
        return false;
    };
    registry
        .for_type(ty)
        .filter(|p| params.iter().any(|c| c == p.code()))
        .flat_map(|p| param_values(p, resource))
        .any(|v| {
            matches!(v, IndexValue::Reference { target_type: Some(t), target_id: Some(id), .. }
                if t == "Patient" && id == patient)
        })
}

/// May the caller do `action` to this resource? Checks the type, and for compartment-bound
/// grants that the resource is in the caller's own compartment.
pub fn allows(
    grant: &Grant,
    registry: &SearchRegistry,
    action: Action,
    ty: &str,
    resource: &Value,
) -> bool {
    match grant.reach(action, ty) {
        Some(Reach::Everywhere) => true,
        Some(Reach::PatientCompartment(patient)) => {
            in_patient_compartment(registry, ty, resource, &patient)
        }
        None => false,
    }
}

/// [`allows`], or a 403. A compartment-bound caller gets the same answer for a resource
/// outside their record as for one that does not exist, so ids cannot be probed.
pub fn require(
    grant: &Grant,
    registry: &SearchRegistry,
    action: Action,
    ty: &str,
    resource: &Value,
) -> FhirResult<()> {
    grant.require(action, ty)?;
    if allows(grant, registry, action, ty, resource) {
        Ok(())
    } else {
        Err(outside_compartment())
    }
}

pub fn outside_compartment() -> FhirError {
    FhirError::new(
        StatusCode::FORBIDDEN,
        Issue::error(
            "forbidden",
            "you may only see and change your own record (patient compartment)",
        ),
    )
}

/// The scope a search may run in for this caller: 403 when a searched, chained or `_has`
/// type is not searchable; a compartment-bound caller's search is confined to their own
/// compartment; a search across types is narrowed to the types the caller may search.
pub fn authorize_search(
    grant: &Grant,
    all_types: &[String],
    scope: &Scope,
    request: &SearchRequest,
) -> FhirResult<Scope> {
    if grant.is_system() {
        return Ok(scope.clone());
    }
    // Chains and _has look into other types; a caller who may not search those must not
    // learn about them through a filter either.
    let mut inner_types = Vec::new();
    for filter in &request.filters {
        collect_types(filter, &mut inner_types);
    }
    for ty in &inner_types {
        grant.require(Action::Search, ty)?;
    }
    let mut scope = scope.clone();
    match scope.resource_type.clone() {
        Some(ty) => {
            if let Reach::PatientCompartment(own) = grant.require(Action::Search, &ty)? {
                if ty != "Patient" && patient_compartment_params(&ty).is_none() {
                    return Err(outside_compartment());
                }
                match &scope.patient {
                    Some(asked) if *asked != own => return Err(outside_compartment()),
                    _ => scope.patient = Some(own),
                }
            }
        }
        None => {
            let asked: Vec<&str> = if scope.types.is_empty() {
                all_types.iter().map(String::as_str).collect()
            } else {
                scope.types.iter().map(String::as_str).collect()
            };
            let mut allowed = Vec::new();
            for ty in asked {
                match grant.reach(Action::Search, ty) {
                    Some(Reach::Everywhere) => allowed.push(ty.to_string()),
                    // Compartment searches need a type; across types they would be unbounded.
                    Some(Reach::PatientCompartment(_)) => {
                        return Err(FhirError::new(
                            StatusCode::FORBIDDEN,
                            Issue::error(
                                "forbidden",
                                "search one type at a time, or use Patient/{your id}/$everything",
                            ),
                        ))
                    }
                    None if !scope.types.is_empty() => {
                        grant.require(Action::Search, ty)?;
                    }
                    None => {}
                }
            }
            if allowed.is_empty() {
                return Err(grant.require(Action::Search, "*").unwrap_err());
            }
            // Keep "all types" as no restriction when the caller may search all of them.
            if !(scope.types.is_empty() && allowed.len() == all_types.len()) {
                scope.types = allowed;
            }
        }
    }
    Ok(scope)
}

fn collect_types(filter: &Filter, out: &mut Vec<String>) {
    match filter {
        Filter::Param { .. } => {}
        Filter::Chain {
            target_type, inner, ..
        } => {
            out.push(target_type.clone());
            collect_types(inner, out);
        }
        Filter::Has {
            source_type, inner, ..
        } => {
            out.push(source_type.clone());
            collect_types(inner, out);
        }
    }
}
