//! Antenatal care. The booking form and the risk rules are declarative (`forms/`, `rules/`);
//! the code adds a pregnancy summary for the chart and raises a Flag on the patient when a
//! raised blood pressure is recorded, so every part of the record shows it.

mod dates;

use serde::Deserialize;
use serde_json::{json, Value};
use tessera_pack_sdk::fhir::SearchParams;
use tessera_pack_sdk::prelude::*;

const LOINC: &str = "http://loinc.org";
const SYSTOLIC: &str = "8480-6";
const DIASTOLIC: &str = "8462-4";
const LMP: &str = "8665-2";
const HAEMOGLOBIN: &str = "718-7";
/// The code of the Flag the pack raises.
const FLAG_SYSTEM: &str = "urn:tessera:pack:obstetrics";
const FLAG_CODE: &str = "pregnancy-hypertension";

/// The organization's limits (`config_schema` in pack.yaml), defaulting to NICE's 140/90.
#[derive(Deserialize)]
struct Limits {
    #[serde(default = "default_systolic")]
    systolic_limit: f64,
    #[serde(default = "default_diastolic")]
    diastolic_limit: f64,
}

fn default_systolic() -> f64 {
    140.0
}

fn default_diastolic() -> f64 {
    90.0
}

fn pack() -> Pack {
    Pack::new()
        .route(
            Route::get("/patients/{id}/pregnancy").requires(Permission::feature("chart", Action::Read)),
            pregnancy_summary,
        )
        .on_event(
            "Observation",
            [Interaction::Create, Interaction::Update],
            flag_raised_blood_pressure,
        )
}

/// The latest Observation of `code` for `patient`, if any.
fn latest(patient: &str, code: &str) -> Result<Option<Value>> {
    let found = fhir::search(
        "Observation",
        &SearchParams::new()
            .reference("patient", &format!("Patient/{patient}"))
            .token("code", Some(LOINC), code)
            .raw("_sort", "-date")
            .raw("_count", "1"),
    )?;
    let first = found.matches().next().cloned();
    Ok(first)
}

fn number(observation: &Option<Value>) -> Option<f64> {
    observation.as_ref()?["valueQuantity"]["value"]
        .as_f64()
        .or_else(|| observation.as_ref()?["valueInteger"].as_f64())
        .or_else(|| observation.as_ref()?["valueDecimal"].as_f64())
}

/// `GET /patients/{id}/pregnancy`: dates from the last menstrual period (due date,
/// gestational age today, trimester) and the latest blood pressure and haemoglobin, each
/// with what it means.
fn pregnancy_summary(request: &Request) -> Result<Response> {
    let patient = request.param("id").unwrap_or_default().to_string();
    // Reading the Patient first: a patient the caller may not see is not summarised.
    fhir::read("Patient", &patient)?;
    let limits: Limits = config::get()?;
    let lmp = latest(&patient, LMP)?;
    let lmp_date = lmp.as_ref().and_then(|o| {
        o["valueDateTime"]
            .as_str()
            .or_else(|| o["effectiveDateTime"].as_str())
            .and_then(dates::parse_date)
    });
    let today = dates::today();
    let dates = lmp_date.map(|lmp| {
        let days = dates::days_between(lmp, today);
        json!({
            "lmp": dates::format(lmp),
            "due_date": dates::format(dates::add_days(lmp, 280)),
            "gestational_age": {"weeks": days.div_euclid(7), "days": days.rem_euclid(7)},
            "trimester": match days.div_euclid(7) { w if w < 14 => 1, w if w < 28 => 2, _ => 3 },
        })
    });
    let systolic = number(&latest(&patient, SYSTOLIC)?);
    let diastolic = number(&latest(&patient, DIASTOLIC)?);
    let haemoglobin = number(&latest(&patient, HAEMOGLOBIN)?);
    let raised = systolic.is_some_and(|s| s >= limits.systolic_limit)
        || diastolic.is_some_and(|d| d >= limits.diastolic_limit);
    Response::json(&json!({
        "patient": patient,
        "pregnancy": dates,
        "blood_pressure": {"systolic": systolic, "diastolic": diastolic, "raised": raised,
                           "flagged": active_flag(&format!("Patient/{patient}"))?},
        "haemoglobin": {"value": haemoglobin, "anaemia": haemoglobin.is_some_and(|h| h < 11.0)},
    }))
}

/// Does `patient` (`Patient/x`) carry this pack's active hypertension Flag? R4 defines no
/// `code` or `status` search parameter for Flag: the patient's flags are read and checked.
fn active_flag(patient: &str) -> Result<bool> {
    let flags = fhir::search(
        "Flag",
        &SearchParams::new()
            .reference("patient", patient)
            .raw("_count", "100"),
    )?;
    let found = flags.matches().any(|flag| {
        flag["status"] == "active"
            && flag["code"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["system"] == FLAG_SYSTEM && c["code"] == FLAG_CODE)
    });
    Ok(found)
}

/// A blood pressure at or above the organization's limits puts an active Flag on the
/// patient (once: an active one is not raised again).
fn flag_raised_blood_pressure(event: &Event) -> Result<()> {
    let Some(observation) = &event.resource else {
        return Ok(());
    };
    let code = observation["code"]["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["system"] == LOINC)
        .and_then(|c| c["code"].as_str())
        .unwrap_or_default();
    let limits: Limits = config::get()?;
    let value = number(&Some(observation.clone()));
    let raised = match code {
        SYSTOLIC => value.is_some_and(|v| v >= limits.systolic_limit),
        DIASTOLIC => value.is_some_and(|v| v >= limits.diastolic_limit),
        _ => false,
    };
    let patient = observation["subject"]["reference"].as_str().unwrap_or_default();
    if !raised || !patient.starts_with("Patient/") {
        return Ok(());
    }
    if active_flag(patient)? {
        return Ok(());
    }
    fhir::create(&json!({
        "resourceType": "Flag",
        "status": "active",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category", "code": "clinical", "display": "Clinical"}]}],
        "code": {
            "coding": [{"system": FLAG_SYSTEM, "code": FLAG_CODE, "display": "Raised blood pressure in pregnancy"}],
            "text": "Raised blood pressure in pregnancy"
        },
        "subject": {"reference": patient},
        "period": {"start": dates::format(dates::today())},
    }))?;
    log::info(format!("raised a hypertension flag for {patient} ({code} = {value:?})"));
    Ok(())
}

export_pack!(pack);
