//! A pack's events in one tenant, for its `org-admin`:
//! - `GET /api/admin/tenants/{t}/packs/{pack}/events?status=failed|pending` — oldest first,
//!   with attempts and the last error;
//! - `POST /api/admin/tenants/{t}/packs/{pack}/events/retry` `{"seq": n}` (one) or `{}` (all
//!   failed) — puts failed events back in line with fresh attempts.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::context::TenantContext;
use super::fhir_routes::Reply;
use super::negotiate::FhirResponse;
use super::AppState;
use crate::auth::rbac::{Action, Grant};
use crate::db::Access;
use crate::events::outbox;
use crate::fhir::outcome::FhirError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/tenants/{tenant}/packs/{pack}/events", get(list))
        .route(
            "/api/admin/tenants/{tenant}/packs/{pack}/events/retry",
            post(retry),
        )
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default = "failed")]
    status: String,
}

fn failed() -> String {
    "failed".into()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetryRequest {
    seq: Option<i64>,
}

async fn list(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Reply {
    ctx.grant.require_feature(Action::Admin, "tenant")?;
    if !matches!(query.status.as_str(), "failed" | "pending") {
        return Err(FhirError::invalid(format!(
            "status {:?}: use failed or pending",
            query.status
        )));
    }
    let mut tx = state
        .db
        .tenant_tx_core(&Grant::system(&ctx.tenant), Access::Read)
        .await?;
    let events = outbox::list(&mut tx, &pack, &query.status, 500).await?;
    let (pending, failed) = outbox::counts(&mut tx, &pack).await?;
    tx.commit().await?;
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({"pack": pack, "pending": pending, "failed": failed, "events": events}),
    ))
}

async fn retry(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    ctx.grant.require_feature(Action::Admin, "tenant")?;
    let request: RetryRequest = match body {
        Some(Json(value)) => serde_json::from_value(value)
            .map_err(|e| FhirError::invalid(format!("the body is not valid: {e}")))?,
        None => RetryRequest::default(),
    };
    let retried = state
        .packs
        .retry_events(&ctx.tenant, &pack, request.seq)
        .await?;
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({"pack": pack, "retried": retried}),
    ))
}
