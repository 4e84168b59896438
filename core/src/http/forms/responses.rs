//! Stored responses: a patient's list, one response, amending and withdrawing. Amending and
//! withdrawing keep history (`forms::submissions`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{form_answered_by, item_outcome, pick_locale, records};
use crate::fhir::outcome::FhirError;
use crate::fhir::validate::is_valid_id;
use crate::forms::submissions::{self, Refusal};
use crate::forms::ClinicClock;
use crate::http::negotiate::FhirResponse;
use crate::http::{AppState, TenantContext};

#[derive(Deserialize)]
pub struct ListQuery {
    patient: Option<String>,
}

fn valid_id(id: &str) -> Result<(), FhirError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(FhirError::invalid(format!("{id:?} is not a resource id")))
    }
}

fn answer(result: Result<Response, FhirError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /t/{t}/forms/responses?patient=X`: the patient's responses, newest first, as a
/// searchset Bundle.
pub async fn list(
    State(state): State<AppState>,
    ctx: TenantContext,
    Query(query): Query<ListQuery>,
) -> Response {
    answer(
        async {
            let patient = query
                .patient
                .as_deref()
                .ok_or_else(|| FhirError::invalid("name the patient: ?patient=<Patient id>"))?;
            valid_id(patient)?;
            let found = records(&state, &ctx)
                .search(
                    "QuestionnaireResponse",
                    &format!("subject=Patient/{patient}&_sort=-authored&_count=100"),
                )
                .await?;
            let entries: Vec<Value> = found
                .into_iter()
                .map(|r| {
                    json!({"fullUrl": format!("{}/QuestionnaireResponse/{}", ctx.fhir_base,
                        r["id"].as_str().unwrap_or_default()), "resource": r})
                })
                .collect();
            Ok(FhirResponse::json(
                StatusCode::OK,
                &json!({"resourceType": "Bundle", "type": "searchset",
                        "total": entries.len(), "entry": entries}),
            )
            .into_response())
        }
        .await,
    )
}

/// `GET /t/{t}/forms/responses/{id}`
pub async fn read(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, id)): Path<(String, String)>,
) -> Response {
    answer(
        async {
            valid_id(&id)?;
            let response = records(&state, &ctx)
                .read("QuestionnaireResponse", &id)
                .await?;
            Ok(FhirResponse::json(StatusCode::OK, &response).into_response())
        }
        .await,
    )
}

/// `PUT /t/{t}/forms/responses/{id}` with the corrected QuestionnaireResponse: a new version
/// (status `amended`) with its Observations brought in line.
pub async fn amend(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(
        async {
            valid_id(&id)?;
            let response: Value = serde_json::from_slice(&body).map_err(|e| {
                FhirError::invalid(format!(
                    "send the amended QuestionnaireResponse as JSON: {e}"
                ))
            })?;
            if response["resourceType"] != "QuestionnaireResponse" {
                return Err(FhirError::invalid(
                    "the body must be a QuestionnaireResponse",
                ));
            }
            if response["id"].as_str().is_some_and(|body_id| body_id != id) {
                return Err(FhirError::invalid(format!(
                    "the body's id {:?} is not {id:?}, the response being amended",
                    response["id"]
                )));
            }
            let entry = form_answered_by(&state, &ctx, &response).await?;
            let patient = match submissions::patient_of(&response) {
                Ok(p) => p,
                Err(Refusal::Items(errors)) => return Ok(item_outcome(&errors)),
                Err(Refusal::Fhir(err)) => return Err(err),
            };
            let records = records(&state, &ctx);
            let today = ClinicClock::parse(&state.config.forms.utc_offset)
                .map_err(FhirError::internal)?
                .today();
            let logic = records
                .logic_context(&entry.form, Some(&patient), today)
                .await?;
            let locale = pick_locale(&state, None, &headers);
            match submissions::amend(&records, &entry, &id, &response, &logic, &locale).await {
                Ok(stored) => {
                    Ok(FhirResponse::json(StatusCode::OK, &stored.response).into_response())
                }
                Err(Refusal::Items(errors)) => Ok(item_outcome(&errors)),
                Err(Refusal::Fhir(err)) => Err(err),
            }
        }
        .await,
    )
}

/// `POST /t/{t}/forms/responses/{id}/$entered-in-error`: the response and its Observations
/// were recorded by mistake.
pub async fn withdraw(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, id)): Path<(String, String)>,
) -> Response {
    answer(
        async {
            valid_id(&id)?;
            let records = records(&state, &ctx);
            let current = records.read("QuestionnaireResponse", &id).await?;
            let entry = form_answered_by(&state, &ctx, &current).await?;
            let stored = submissions::withdraw(&records, &entry, &id).await?;
            Ok(FhirResponse::json(
                StatusCode::OK,
                &json!({"response": stored.response, "observations": stored.observations}),
            )
            .into_response())
        }
        .await,
    )
}
