//! `GET /t/{tenant}/rules?patient=X`: what the rules of the tenant's enabled packs raise for
//! a patient, evaluated on the patient's record as the signed-in user.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::context::TenantContext;
use super::negotiate::FhirResponse;
use super::AppState;
use crate::fhir::outcome::FhirError;
use crate::forms::records::Records;
use crate::forms::ClinicClock;

pub fn routes() -> Router<AppState> {
    Router::new().route("/t/{tenant}/rules", get(evaluate))
}

#[derive(Deserialize)]
struct RulesQuery {
    patient: Option<String>,
}

async fn evaluate(
    State(state): State<AppState>,
    ctx: TenantContext,
    Query(query): Query<RulesQuery>,
) -> Response {
    let result = async {
        let patient = query
            .patient
            .filter(|p| crate::fhir::validate::is_valid_id(p))
            .ok_or_else(|| FhirError::invalid("name the patient: ?patient=<Patient id>"))?;
        let rules = state.packs.rules(&ctx.tenant).await?;
        let records = Records {
            state: &state,
            grant: &ctx.grant,
            fhir_base: &ctx.fhir_base,
        };
        let today = ClinicClock::parse(&state.config.forms.utc_offset)
            .map_err(FhirError::internal)?
            .today();
        let raised = crate::rules::evaluate(&records, &rules, &patient, today).await?;
        Ok::<_, FhirError>(FhirResponse::json(
            StatusCode::OK,
            &json!({"patient": patient, "evaluated": rules.len(), "raised": raised}),
        ))
    }
    .await;
    match result {
        Ok(reply) => reply.into_response(),
        Err(err) => err.into_response(),
    }
}
