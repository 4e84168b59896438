//! Submitting, amending and withdrawing form responses. Each is validated against the form
//! on the server (the same rules the browser ran) and stored as one FHIR transaction: the
//! QuestionnaireResponse with the Observations extracted from it, all or nothing. Amending
//! and withdrawing keep history: new versions with status `amended` or `entered-in-error`,
//! never deletions.

use serde_json::{json, Value};
use tessera_forms::status::{amend_observations, entered_in_error};
use tessera_forms::{ItemError, Locale, LogicContext};

use super::catalog::CatalogForm;
use super::records::Records;
use crate::fhir::outcome::{FhirError, FhirResult};

/// Why a response was not stored.
#[derive(Debug)]
pub enum Refusal {
    /// The answers do not fit the form: one message per item.
    Items(Vec<ItemError>),
    /// Anything else (permissions, a stale version, the store).
    Fhir(FhirError),
}

impl From<FhirError> for Refusal {
    fn from(err: FhirError) -> Refusal {
        Refusal::Fhir(err)
    }
}

/// What was stored.
#[derive(Debug)]
pub struct Stored {
    pub response: Value,
    pub observations: Vec<Value>,
}

/// The Patient a response is about: its `subject`, which must be a Patient.
pub fn patient_of(response: &Value) -> Result<String, Refusal> {
    let reference = response["subject"]["reference"]
        .as_str()
        .unwrap_or_default();
    match reference.strip_prefix("Patient/") {
        Some(id) if crate::fhir::validate::is_valid_id(id) => Ok(id.to_string()),
        _ => Err(Refusal::Items(vec![ItemError {
            link_id: String::new(),
            message: "the response must name its patient: subject.reference = Patient/<id>".into(),
        }])),
    }
}

fn encounter_of(response: &Value) -> Option<String> {
    response["encounter"]["reference"]
        .as_str()
        .filter(|r| r.starts_with("Encounter/"))
        .map(str::to_string)
}

/// What a transaction stored, from its response Bundle: the response (the first entry),
/// then the Observations, in request order.
fn stored(bundle: &Value) -> Stored {
    let mut resources: Vec<Value> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .collect();
    let response = if resources.is_empty() {
        Value::Null
    } else {
        resources.remove(0)
    };
    Stored {
        response,
        observations: resources,
    }
}

fn put(resource: &Value) -> Value {
    let ty = resource["resourceType"].as_str().unwrap_or_default();
    let id = resource["id"].as_str().unwrap_or_default();
    json!({"resource": resource, "request": {"method": "PUT", "url": format!("{ty}/{id}")}})
}

/// Stores a new response and its Observations.
pub async fn submit(
    records: &Records<'_>,
    entry: &CatalogForm,
    response: &Value,
    logic: &LogicContext,
    locale: &Locale,
) -> Result<Stored, Refusal> {
    let patient = patient_of(response)?;
    if response.get("id").is_some() {
        return Err(Refusal::Fhir(FhirError::invalid(
            "a new response has no id; to change a stored one, amend it (PUT .../responses/{id})",
        )));
    }
    let valid = entry
        .form
        .validate_localized(response, logic, locale)
        .map_err(Refusal::Items)?;
    let entries = valid.transaction_entries(
        &format!("Patient/{patient}"),
        encounter_of(response).as_deref(),
    );
    Ok(stored(&records.transaction(entries).await?))
}

/// The stored response `id`, refused when it is withdrawn or answers another form or
/// another version of it than the one the tenant runs (amend with the same version).
async fn current_response(
    records: &Records<'_>,
    entry: &CatalogForm,
    id: &str,
) -> FhirResult<Value> {
    let previous = records.read("QuestionnaireResponse", id).await?;
    if previous["status"] == "entered-in-error" {
        return Err(FhirError::conflict(format!(
            "QuestionnaireResponse/{id} was withdrawn (entered-in-error) and cannot change"
        )));
    }
    let canonical = entry.form.canonical();
    if previous["questionnaire"].as_str() != Some(canonical.as_str()) {
        return Err(FhirError::conflict(format!(
            "QuestionnaireResponse/{id} answers {}, not {canonical}",
            previous["questionnaire"].as_str().unwrap_or("another form")
        )));
    }
    Ok(previous)
}

/// The live Observations extracted from response `id`.
async fn observations_of(records: &Records<'_>, id: &str) -> FhirResult<Vec<Value>> {
    let query = format!("derived-from=QuestionnaireResponse/{id}&_count=1000");
    Ok(records
        .search("Observation", &query)
        .await?
        .into_iter()
        .filter(|o| o["status"] != "entered-in-error")
        .collect())
}

/// Stores a new version of response `id` (status `amended`) and brings its Observations in
/// line: changed and unchanged answers update theirs (status `amended`), new answers add
/// Observations, removed answers withdraw theirs.
pub async fn amend(
    records: &Records<'_>,
    entry: &CatalogForm,
    id: &str,
    response: &Value,
    logic: &LogicContext,
    locale: &Locale,
) -> Result<Stored, Refusal> {
    let previous = current_response(records, entry, id).await?;
    let patient = patient_of(response)?;
    if previous["subject"] != response["subject"] {
        return Err(Refusal::Fhir(FhirError::invalid(
            "an amendment cannot change the response's patient (subject)",
        )));
    }
    let mut response = response.clone();
    response["id"] = json!(id);
    response["status"] = json!("amended");
    let valid = entry
        .form
        .validate_localized(&response, logic, locale)
        .map_err(Refusal::Items)?;
    let patient_ref = format!("Patient/{patient}");
    let encounter = encounter_of(&response);
    let mut amended = valid.questionnaire_response().clone();
    amended["subject"] = json!({"reference": patient_ref});
    if let Some(encounter) = &encounter {
        amended["encounter"] = json!({"reference": encounter});
    }
    let current = valid.extract(&patient_ref, encounter.as_deref());
    let previous_observations = observations_of(records, id).await?;
    let change = amend_observations(&previous_observations, current);
    let mut entries = vec![put(&amended)];
    entries.extend(change.updated.iter().map(put));
    entries.extend(change.created.iter().map(|o| {
        json!({"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()), "resource": o,
               "request": {"method": "POST", "url": "Observation"}})
    }));
    entries.extend(change.withdrawn.iter().map(put));
    Ok(stored(&records.transaction(entries).await?))
}

/// Marks response `id` and its Observations `entered-in-error` (recorded by mistake), in
/// one transaction; earlier versions stay in their history.
pub async fn withdraw(records: &Records<'_>, entry: &CatalogForm, id: &str) -> FhirResult<Stored> {
    let previous = current_response(records, entry, id).await?;
    let observations = observations_of(records, id).await?;
    let mut entries = vec![put(&entered_in_error(&previous))];
    entries.extend(observations.iter().map(|o| put(&entered_in_error(o))));
    Ok(stored(&records.transaction(entries).await?))
}
