//! {{name}}: a Tessera country pack.

use serde_json::json;
use tessera_pack_sdk::prelude::*;

/// The identifier system this pack knows how to check.
const NATIONAL_ID: &str = "https://example.org/national-id";

/// What the pack contributes. Its forms (forms/) and rules (rules/) come with it.
fn pack() -> Pack {
    Pack::new()
        .route(
            Route::get("/patients/{id}/national-id")
                .requires(Permission::fhir("Patient", Action::Read)),
            national_id,
        )
        .identifier_system(
            NATIONAL_ID,
            "Example national id: digits with a Luhn check digit",
            check_national_id,
        )
}

/// `GET /patients/{id}/national-id`: the patient's national id and whether it is valid.
fn national_id(request: &Request) -> Result<Response> {
    let id = request.param("id").unwrap_or_default();
    log::debug(format!("reading the national id of Patient/{id}"));
    let patient = fhir::read("Patient", id)?;
    let value = patient["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|identifier| identifier["system"] == NATIONAL_ID)
        .and_then(|identifier| identifier["value"].as_str())
        .ok_or_else(|| Error::not_found(format!("Patient/{id} has no national id")))?;
    Response::json(&json!({
        "value": value,
        "valid": check_national_id(value).is_ok(),
    }))
}

/// Digits whose last one is the Luhn check digit of the others.
fn check_national_id(value: &str) -> std::result::Result<(), String> {
    if value.len() < 2 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{value:?} is not a string of at least two digits"));
    }
    let sum: u32 = value
        .bytes()
        .rev()
        .map(|b| u32::from(b - b'0'))
        .enumerate()
        .map(|(i, digit)| match (i % 2, digit * 2) {
            (0, _) => digit,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    if sum % 10 == 0 {
        Ok(())
    } else {
        Err(format!("{value} fails its check digit"))
    }
}

export_pack!(pack);
