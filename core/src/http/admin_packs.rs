//! Packs over JSON.
//!
//! Server-wide, for a `platform-admin`:
//! - `POST /api/admin/packs` — install an archive (the request body, `application/gzip`);
//! - `GET /api/admin/packs` — installed versions; `GET /api/admin/packs/log` — registry log;
//! - `DELETE /api/admin/packs/{pack}/{version}` — uninstall, once no tenant uses it.
//!
//! Per tenant, for its `org-admin` (feature `tenant`, action `admin`):
//! - `GET /api/admin/tenants/{t}/packs` — every installed pack with this tenant's state;
//! - `GET /api/admin/tenants/{t}/packs/{pack}` — one pack: versions, permissions to consent
//!   to, configuration schema, this tenant's settings, what it registers;
//! - `PUT /api/admin/tenants/{t}/packs/{pack}` — enable or reconfigure (`EnableRequest`);
//! - `DELETE /api/admin/tenants/{t}/packs/{pack}` — remove its settings and data;
//! - `POST .../{pack}/disable`, `.../upgrade`, `.../rollback`, `.../pin` (`{"pinned": b}`);
//! - `PUT`/`DELETE .../{pack}/locations/{location}` — a Location's override.
//!
//! Secrets are never returned: only the names of those that are set.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::context::{bearer_token, TenantContext};
use super::fhir_routes::Reply;
use super::negotiate::FhirResponse;
use super::AppState;
use crate::auth::rbac::{Action, Who};
use crate::fhir::outcome::{FhirError, Issue};
use crate::packs::lifecycle::{check_location_id, EnableRequest, LocationRequest, UpgradeRequest};
use crate::packs::store::{self, SettingRow, VersionRow};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/packs", get(list_installed).post(install))
        .route("/api/admin/packs/log", get(registry_log))
        .route(
            "/api/admin/packs/{pack}/{version}",
            axum::routing::delete(uninstall),
        )
        .route("/api/admin/tenants/{tenant}/packs", get(tenant_packs))
        .route(
            "/api/admin/tenants/{tenant}/packs/{pack}",
            get(tenant_pack).put(enable).delete(remove),
        )
        .route(
            "/api/admin/tenants/{tenant}/packs/{pack}/disable",
            post(disable),
        )
        .route(
            "/api/admin/tenants/{tenant}/packs/{pack}/upgrade",
            post(upgrade),
        )
        .route(
            "/api/admin/tenants/{tenant}/packs/{pack}/rollback",
            post(rollback),
        )
        .route("/api/admin/tenants/{tenant}/packs/{pack}/pin", post(pin))
        .route(
            "/api/admin/tenants/{tenant}/packs/{pack}/locations/{location}",
            put(set_location).delete(clear_location),
        )
}

/// A caller holding `platform-admin` (feature `platform`, action `admin`) in any of the
/// tenants their token is good for.
pub struct PlatformAdmin {
    pub actor: String,
}

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, FhirError> {
        let unauthorized =
            |m: String| FhirError::new(StatusCode::UNAUTHORIZED, Issue::error("login", m));
        let token = bearer_token(parts)?
            .ok_or_else(|| unauthorized("this endpoint needs a bearer token".into()))?;
        let principal = state
            .auth
            .authenticate(token)
            .await
            .map_err(|e| unauthorized(e.to_string()))?;
        for tenant in &principal.tenants {
            let grant = state.auth.grant_in(&state.db, &principal, tenant).await?;
            if grant.allows_feature(Action::Admin, "platform") {
                return Ok(PlatformAdmin {
                    actor: actor_name(&grant.who),
                });
            }
        }
        Err(FhirError::new(
            StatusCode::FORBIDDEN,
            Issue::error(
                "forbidden",
                "installing and removing packs needs the platform-admin role",
            ),
        ))
    }
}

fn require_admin(ctx: &TenantContext) -> Result<String, FhirError> {
    ctx.grant.require_feature(Action::Admin, "tenant")?;
    Ok(actor_name(&ctx.grant.who))
}

fn body_of<T: serde::de::DeserializeOwned>(body: Option<Json<Value>>) -> Result<T, FhirError> {
    let value = body.map(|Json(v)| v).unwrap_or_else(|| json!({}));
    serde_json::from_value(value)
        .map_err(|e| FhirError::invalid(format!("the body is not valid: {e}")))
}

fn version_json(row: &VersionRow) -> Value {
    json!({
        "id": row.pack_id,
        "version": row.version.to_string(),
        "kind": row.manifest.kind,
        "publisher": row.manifest.publisher,
        "description": row.manifest.description,
        "abi": row.manifest.abi.to_string(),
        "dependencies": row.manifest.dependencies,
        "permissions": row.manifest.permissions,
        "config_schema": row.manifest.config_schema,
        "secrets": row.manifest.secret_fields(),
        "locales": row.manifest.locales,
        "content_hash": row.content_hash,
        "signed_by": row.trust,
        "installed_at": row.installed_at,
        "installed_by": row.installed_by,
    })
}

fn setting_json(state: &AppState, tenant: &str, row: &SettingRow) -> Value {
    json!({
        "enabled": row.enabled,
        "version": row.version,
        "previous_version": row.previous_version,
        "pinned": row.pinned,
        "granted": row.granted,
        "config": row.config,
        "secrets_set": state.packs.secrets_set(tenant, row),
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    })
}

/// A pack's Location overrides: Location id → `{enabled, config}`.
fn locations_json(setting: &crate::packs::TenantPack) -> Value {
    setting
        .locations
        .iter()
        .map(|(location, row)| {
            (
                location.clone(),
                json!({"enabled": row.enabled, "config": row.config}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// How an admin is named in the lifecycle's records.
pub(super) fn actor_name(who: &Who) -> String {
    match who {
        Who::User {
            subject, username, ..
        } => username.clone().unwrap_or_else(|| subject.clone()),
        Who::System => "system".into(),
    }
}

async fn install(State(state): State<AppState>, admin: PlatformAdmin, body: Bytes) -> Reply {
    if body.is_empty() {
        return Err(FhirError::invalid(
            "send the pack archive (.tpack) as the request body",
        ));
    }
    let row = state.packs.install(&body, &admin.actor).await?;
    Ok(FhirResponse::json(StatusCode::CREATED, &version_json(&row)))
}

async fn list_installed(State(state): State<AppState>, _admin: PlatformAdmin) -> Reply {
    let rows = store::versions(&state.db).await?;
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({"packs": rows.iter().map(version_json).collect::<Vec<_>>()}),
    ))
}

async fn registry_log(State(state): State<AppState>, _admin: PlatformAdmin) -> Reply {
    let entries = store::registry_log(&state.db, 500).await?;
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({ "log": entries }),
    ))
}

async fn uninstall(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Path((pack, version)): Path<(String, String)>,
) -> Reply {
    state.packs.uninstall(&pack, &version, &admin.actor).await?;
    Ok(FhirResponse::empty(StatusCode::NO_CONTENT))
}

async fn tenant_packs(State(state): State<AppState>, ctx: TenantContext) -> Reply {
    require_admin(&ctx)?;
    let packs: Vec<Value> = state
        .packs
        .overview(&ctx.tenant)
        .await?
        .iter()
        .map(|pack| {
            let latest = pack.latest();
            json!({
                "id": pack.id,
                "kind": latest.manifest.kind,
                "description": latest.manifest.description,
                "versions": pack.versions.iter().map(|v| v.version.to_string()).collect::<Vec<_>>(),
                "latest": latest.version.to_string(),
                "tenant": pack.wide().map(|w| setting_json(&state, &ctx.tenant, w)),
                "locations": pack.setting.as_ref().map(locations_json),
            })
        })
        .collect();
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({ "packs": packs }),
    ))
}

async fn tenant_pack(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
) -> Reply {
    require_admin(&ctx)?;
    let overview = state.packs.overview_of(&ctx.tenant, &pack).await?;
    let current = overview.current().version.to_string();
    let loaded = state.packs.loaded(&pack, &current).await?;
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({
            "id": pack,
            "versions": overview.versions.iter().map(version_json).collect::<Vec<_>>(),
            "tenant": overview.wide().map(|w| setting_json(&state, &ctx.tenant, w)),
            "locations": overview.setting.as_ref().map(locations_json),
            "registration": {"version": current, "contributes": loaded.registration},
        }),
    ))
}

async fn enable(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    let actor = require_admin(&ctx)?;
    let request: EnableRequest = body_of(body)?;
    state
        .packs
        .enable(&ctx.tenant, &pack, request, &actor)
        .await?;
    current_setting(&state, &ctx.tenant, &pack).await
}

async fn current_setting(state: &AppState, tenant: &str, pack: &str) -> Reply {
    let settings = state.packs.tenant(tenant).await?;
    let row = settings
        .packs
        .get(pack)
        .and_then(|s| s.wide.as_ref())
        .ok_or_else(|| FhirError::not_found(format!("pack {pack} has no settings here")))?;
    Ok(FhirResponse::json(
        StatusCode::OK,
        &setting_json(state, tenant, row),
    ))
}

async fn remove(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
) -> Reply {
    require_admin(&ctx)?;
    state.packs.remove(&ctx.tenant, &pack).await?;
    Ok(FhirResponse::empty(StatusCode::NO_CONTENT))
}

async fn disable(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
) -> Reply {
    let actor = require_admin(&ctx)?;
    state.packs.disable(&ctx.tenant, &pack, &actor).await?;
    current_setting(&state, &ctx.tenant, &pack).await
}

async fn upgrade(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    let actor = require_admin(&ctx)?;
    let request: UpgradeRequest = body_of(body)?;
    state
        .packs
        .upgrade(&ctx.tenant, &pack, request, &actor)
        .await?;
    current_setting(&state, &ctx.tenant, &pack).await
}

async fn rollback(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
) -> Reply {
    let actor = require_admin(&ctx)?;
    state.packs.rollback(&ctx.tenant, &pack, &actor).await?;
    current_setting(&state, &ctx.tenant, &pack).await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PinRequest {
    pinned: bool,
}

async fn pin(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    let actor = require_admin(&ctx)?;
    let request: PinRequest = body_of(body)?;
    state
        .packs
        .pin(&ctx.tenant, &pack, request.pinned, &actor)
        .await?;
    current_setting(&state, &ctx.tenant, &pack).await
}

async fn set_location(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack, location)): Path<(String, String, String)>,
    body: Option<Json<Value>>,
) -> Reply {
    let actor = require_admin(&ctx)?;
    check_location_id(&location)?;
    let request: LocationRequest = body_of(body)?;
    state
        .packs
        .set_location(&ctx.tenant, &pack, &location, request, &actor)
        .await?;
    Ok(FhirResponse::empty(StatusCode::NO_CONTENT))
}

async fn clear_location(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack, location)): Path<(String, String, String)>,
) -> Reply {
    require_admin(&ctx)?;
    check_location_id(&location)?;
    state
        .packs
        .clear_location(&ctx.tenant, &pack, &location)
        .await?;
    Ok(FhirResponse::empty(StatusCode::NO_CONTENT))
}
