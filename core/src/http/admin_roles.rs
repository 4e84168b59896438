//! The tenant's access policy over JSON, for its `org-admin` (feature `tenant`, action
//! `admin`):
//!
//! - `GET /api/admin/tenants/{tenant}/roles` — system and tenant roles with their permissions;
//! - `PUT /api/admin/tenants/{tenant}/roles/{name}` — define or replace a tenant role
//!   (`{"description": "...", "permissions": {"Observation": ["read", "create"]}}`);
//! - `DELETE /api/admin/tenants/{tenant}/roles/{name}`;
//! - `GET`/`PUT /api/admin/tenants/{tenant}/role-map` — provider role → Tessera roles.
//!
//! Changes apply to the next request (the policy cache is cleared) and are audited.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::context::TenantContext;
use super::fhir_routes::Reply;
use super::negotiate::FhirResponse;
use super::AppState;
use crate::auth::rbac::{system_role_definitions, Action, RoleDefinition};
use crate::auth::tenant_policy;
use crate::fhir::outcome::FhirError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/tenants/{tenant}/roles", get(list_roles))
        .route(
            "/api/admin/tenants/{tenant}/roles/{name}",
            axum::routing::put(put_role).delete(delete_role),
        )
        .route(
            "/api/admin/tenants/{tenant}/role-map",
            get(get_role_map).put(put_role_map),
        )
}

fn require_admin(ctx: &TenantContext) -> Result<(), FhirError> {
    ctx.grant.require_feature(Action::Admin, "tenant")
}

fn body_of<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, FhirError> {
    serde_json::from_value(body)
        .map_err(|e| FhirError::invalid(format!("the body is not valid: {e}")))
}

async fn list_roles(State(state): State<AppState>, ctx: TenantContext) -> Reply {
    require_admin(&ctx)?;
    let policy = state.auth.policies.get(&state.db, &ctx.tenant).await?;
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({"system": system_role_definitions(), "tenant": policy.roles}),
    ))
}

async fn put_role(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Reply {
    require_admin(&ctx)?;
    let def: RoleDefinition = body_of(body)?;
    tenant_policy::put_role(&state.db, &ctx.tenant, &name, &def)
        .await
        .map_err(FhirError::invalid)?;
    state.auth.policies.forget(&ctx.tenant);
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({"name": name, "role": def}),
    ))
}

async fn delete_role(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_, name)): Path<(String, String)>,
) -> Reply {
    require_admin(&ctx)?;
    let existed = tenant_policy::delete_role(&state.db, &ctx.tenant, &name).await?;
    state.auth.policies.forget(&ctx.tenant);
    if existed {
        Ok(FhirResponse::empty(StatusCode::NO_CONTENT))
    } else {
        Err(FhirError::not_found(format!(
            "this tenant has no role {name:?}"
        )))
    }
}

async fn get_role_map(State(state): State<AppState>, ctx: TenantContext) -> Reply {
    require_admin(&ctx)?;
    let policy = state.auth.policies.get(&state.db, &ctx.tenant).await?;
    Ok(FhirResponse::json(StatusCode::OK, &json!(policy.role_map)))
}

async fn put_role_map(
    State(state): State<AppState>,
    ctx: TenantContext,
    Json(body): Json<Value>,
) -> Reply {
    require_admin(&ctx)?;
    let map: BTreeMap<String, Vec<String>> = body_of(body)?;
    let policy = state.auth.policies.get(&state.db, &ctx.tenant).await?;
    tenant_policy::put_role_map(&state.db, &ctx.tenant, &policy, &map)
        .await
        .map_err(FhirError::invalid)?;
    state.auth.policies.forget(&ctx.tenant);
    Ok(FhirResponse::json(StatusCode::OK, &json!(map)))
}
