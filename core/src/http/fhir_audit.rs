//! `AuditEvent` at the FHIR base: the tenant's audit trail, read-only. It is served from the
//! append-only `audit_event` table, not the resource store, so no FHIR write can reach it
//! (POST/PUT/PATCH/DELETE here answer 405). Reading it needs `AuditEvent` permissions, which
//! only `org-admin` holds among the system roles.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::context::TenantContext;
use super::fhir_routes::Reply;
use super::negotiate::{wants_pretty, FhirResponse};
use super::AppState;
use crate::audit::store::{self, AuditQuery};
use crate::auth::rbac::Action;
use crate::db::Access;
use crate::in_tenant_tx;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/fhir/AuditEvent", get(search))
        .route("/t/{tenant}/fhir/AuditEvent/{id}", get(read))
}

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, _)| !matches!(k.as_str(), "_format" | "_pretty"))
        .collect()
}

async fn search(
    State(state): State<AppState>,
    ctx: TenantContext,
    RawQuery(query): RawQuery,
) -> Reply {
    ctx.grant.require(Action::Search, "AuditEvent")?;
    let params = pairs(query.as_deref());
    let q = AuditQuery::parse(&params)?;
    let (events, cursor) = in_tenant_tx!(state.db, &ctx.grant, Access::Read, |tx| {
        store::search(&mut tx, &q).await
    })?;
    let self_query: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "_after")
        .map(|(k, v)| format!("{k}={}", urlencoding(v)))
        .collect();
    let base = format!("{}/AuditEvent?{}", ctx.fhir_base, self_query.join("&"));
    let mut links = vec![json!({"relation": "self", "url": base})];
    if let Some(cursor) = cursor {
        let sep = if self_query.is_empty() { "" } else { "&" };
        links.push(json!({"relation": "next", "url": format!("{base}{sep}_after={cursor}")}));
    }
    let entries: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "fullUrl": format!("{}/AuditEvent/{}", ctx.fhir_base, e["id"].as_str().unwrap_or("")),
                "resource": e,
                "search": {"mode": "match"},
            })
        })
        .collect();
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": entries,
    });
    Ok(FhirResponse::json(StatusCode::OK, &bundle).pretty(wants_pretty(query.as_deref())))
}

fn urlencoding(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

async fn read(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Reply {
    ctx.grant.require(Action::Read, "AuditEvent")?;
    // A transaction that sets the tenant: row-level security on audit_event needs it.
    let event = in_tenant_tx!(state.db, &ctx.grant, Access::Read, |tx| {
        store::read(&mut tx, &id).await
    })?;
    Ok(FhirResponse::json(StatusCode::OK, &event).pretty(wants_pretty(query.as_deref())))
}
