//! Pack routes at `/t/{tenant}/packs/{pack}/...`, there only for tenants that enabled the
//! pack, behind the same sign-in and RBAC as everything else:
//!
//! - `GET /t/{tenant}/packs` — the packs enabled here, with their routes, forms and rules;
//! - `ANY /t/{tenant}/packs/{pack}/{path}` — one of the pack's routes;
//! - `POST /t/{tenant}/packs/{pack}/_hooks/{name}` — a webhook the pack registered, called
//!   by another system without a user token (the pack verifies the sender), with only the
//!   pack's own grant.
//!
//! A pack's response may not set cookies, and is served with `Content-Security-Policy:
//! sandbox`, so a page a pack returns cannot act as the Tessera origin in a browser.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use serde_json::{json, Value};
use tessera_plugins::registration::RouteMatch;
use tessera_plugins::runtime::{Caller, PackResponse, RouteRequest};
use tessera_plugins::CallError;

use super::context::{PublicTenant, TenantContext};
use super::negotiate::FhirResponse;
use super::AppState;
use crate::audit::AuditSlot;
use crate::auth::rbac::{Action, Grant, Who};
use crate::db::Access;
use crate::fhir::outcome::{FhirError, Issue};
use crate::packs::dispatch::CallSite;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/packs", get(list_enabled))
        .route("/t/{tenant}/packs/{pack}/_hooks/{name}", any(webhook))
        .route("/t/{tenant}/packs/{pack}", any(pack_root))
        .route("/t/{tenant}/packs/{pack}/{*rest}", any(pack_route))
}

/// Request headers a pack never sees: credentials stay with the server.
const PRIVATE_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "x-csrf-token",
    "proxy-authorization",
];
/// Response headers a pack may not set.
const FORBIDDEN_RESPONSE_HEADERS: &[&str] = &[
    "set-cookie",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-security-policy",
    "strict-transport-security",
    "www-authenticate",
];

fn call_error(err: &CallError) -> FhirError {
    let status = match err {
        CallError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        CallError::Busy => StatusCode::TOO_MANY_REQUESTS,
        CallError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    };
    FhirError::new(status, Issue::error("exception", err.to_string()))
}

/// The caller's Location and the Locations it is part of, most specific first: from the
/// `Tessera-Location` header, followed along `Location.partOf` (at most 10 levels).
async fn location_chain(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
) -> Result<Vec<String>, FhirError> {
    let Some(first) = headers
        .get("tessera-location")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(vec![]);
    };
    let first = first.trim().trim_start_matches("Location/").to_string();
    let valid = |id: &str| {
        (1..=64).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    if !valid(&first) {
        return Err(FhirError::invalid("Tessera-Location must be a Location id"));
    }
    let grant = Grant::system(tenant);
    let mut chain = vec![first];
    // One read transaction for the whole walk.
    let mut tx = state.db.tenant_tx_core(&grant, Access::Read).await?;
    while chain.len() < 10 {
        let id = chain.last().unwrap().clone();
        let Ok(stored) = state.engine.read(&mut tx, "Location", &id).await else {
            break;
        };
        let parent = stored
            .content
            .as_deref()
            .and_then(|c| serde_json::from_str::<Value>(c).ok())
            .and_then(|v| v["partOf"]["reference"].as_str().map(str::to_string));
        match parent.and_then(|r| r.strip_prefix("Location/").map(str::to_string)) {
            Some(parent) if valid(&parent) && !chain.contains(&parent) => chain.push(parent),
            _ => break,
        }
    }
    tx.commit().await?;
    Ok(chain)
}

fn caller(grant: &Grant, location: Option<String>) -> Caller {
    let (user, username) = match &grant.who {
        Who::User {
            subject, username, ..
        } => (subject.clone(), username.clone()),
        Who::System => ("system".to_string(), None),
    };
    Caller {
        user,
        username,
        roles: grant.roles.clone(),
        patient: grant.patient.clone(),
        location,
    }
}

fn visible_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !PRIVATE_REQUEST_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect()
}

fn into_response(answer: PackResponse) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        let lower = name.to_ascii_lowercase();
        if FORBIDDEN_RESPONSE_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(lower), HeaderValue::try_from(value)) {
            headers.append(name, value);
        }
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// May the caller use this route? A FHIR permission is checked against their grant; a
/// pack feature is held through a role that has it, or a role the pack's manifest names.
fn may_use(
    grant: &Grant,
    permission: &tessera_plugins::registration::Permission,
    manifest: &tessera_plugins::Manifest,
) -> bool {
    let Some(action) = Action::from_name(&permission.action) else {
        return false;
    };
    match permission.target.strip_prefix("feature:") {
        Some(feature) => {
            let by_manifest = feature
                .strip_prefix(manifest.id.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .and_then(|name| manifest.permissions.features.get(name))
                .is_some_and(|f| f.roles.iter().any(|r| grant.roles.contains(r)));
            by_manifest || grant.allows_feature(action, feature)
        }
        None => grant.reach(action, &permission.target).is_some(),
    }
}

async fn pack_root(
    state: State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack)): Path<(String, String)>,
    slot: Option<Extension<AuditSlot>>,
    request: Request,
) -> Response {
    run_route(state, ctx, pack, String::new(), slot, request).await
}

async fn pack_route(
    state: State<AppState>,
    ctx: TenantContext,
    Path((_tenant, pack, rest)): Path<(String, String, String)>,
    slot: Option<Extension<AuditSlot>>,
    request: Request,
) -> Response {
    run_route(state, ctx, pack, rest, slot, request).await
}

/// A request's method, headers, query and body (bounded by `max_body_bytes`).
async fn split(
    state: &AppState,
    request: Request,
) -> Result<(Method, HeaderMap, String, Vec<u8>), FhirError> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| {
            FhirError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Issue::error(
                    "too-costly",
                    format!(
                        "the body is larger than {} bytes",
                        state.config.max_body_bytes
                    ),
                ),
            )
        })?;
    Ok((
        parts.method,
        parts.headers,
        parts.uri.query().unwrap_or("").to_string(),
        body.to_vec(),
    ))
}

async fn run_route(
    State(state): State<AppState>,
    ctx: TenantContext,
    pack: String,
    rest: String,
    slot: Option<Extension<AuditSlot>>,
    request: Request,
) -> Response {
    let result = async {
        if rest.starts_with('_') {
            return Err(FhirError::not_found("paths starting with _ are reserved"));
        }
        let (method, headers, query, body) = split(&state, request).await?;
        let path = format!("/{rest}");
        let locations = location_chain(&state, &ctx.tenant, &headers).await?;
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_string();
        let (loaded, context) = state
            .packs
            .prepare(CallSite {
                tenant: &ctx.tenant,
                pack: &pack,
                locations: &locations,
                user: Some(&ctx.grant),
                fhir_base: ctx.fhir_base.clone(),
                host,
            })
            .await?;
        let (route, params) = match loaded.registration.find_route(method.as_str(), &path) {
            RouteMatch::Found(route, params) => (route, params),
            RouteMatch::MethodNotAllowed => {
                return Err(FhirError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    Issue::error(
                        "not-supported",
                        format!("{method} is not allowed on {path}"),
                    ),
                ))
            }
            RouteMatch::NotFound => {
                return Err(FhirError::not_found(format!(
                    "pack {pack} has no route {path}"
                )))
            }
        };
        if let Some(permission) = &route.permission {
            if !may_use(&ctx.grant, permission, &loaded.manifest) {
                return Err(FhirError::new(
                    StatusCode::FORBIDDEN,
                    Issue::error(
                        "forbidden",
                        format!(
                            "this route needs {} on {}",
                            permission.action, permission.target
                        ),
                    ),
                ));
            }
        }
        let request = RouteRequest {
            method: method.to_string(),
            path,
            params,
            query,
            headers: visible_headers(&headers),
            body,
            caller: caller(&ctx.grant, locations.first().cloned()),
        };
        let runtime = state.packs.runtime().await?;
        runtime
            .call_route(&loaded, context, request)
            .await
            .map_err(|e| call_error(&e))
    }
    .await;
    respond(result, slot)
}

async fn webhook(
    State(state): State<AppState>,
    public: PublicTenant,
    Path((_tenant, pack, name)): Path<(String, String, String)>,
    slot: Option<Extension<AuditSlot>>,
    request: Request,
) -> Response {
    let tenant = public.tenant.clone();
    let result = async {
        let (method, headers, query, body) = split(&state, request).await?;
        // Unknown tenants and packs answer alike: a webhook URL reveals nothing.
        if !state.tenants.exists(&tenant).await? {
            return Err(FhirError::not_found(format!(
                "no pack {pack:?} is enabled for this organization here"
            )));
        }
        if let Some(Extension(slot)) = &slot {
            slot.set_tenant(&tenant);
        }
        let (loaded, context) = state
            .packs
            .prepare(CallSite {
                tenant: &tenant,
                pack: &pack,
                locations: &[],
                user: None,
                fhir_base: format!("{}/t/{tenant}/fhir", public.origin),
                host: public
                    .origin
                    .trim_start_matches("http://")
                    .trim_start_matches("https://")
                    .to_string(),
            })
            .await?;
        let hook = loaded
            .registration
            .webhooks
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| FhirError::not_found(format!("pack {pack} has no webhook {name:?}")))?;
        if !hook.methods.iter().any(|m| m == method.as_str()) {
            return Err(FhirError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Issue::error(
                    "not-supported",
                    format!("webhook {name} does not take {method}"),
                ),
            ));
        }
        if let Some(Extension(slot)) = &slot {
            slot.set_who(&Grant::for_pack(&tenant, &pack, &Default::default()).who);
        }
        let request = RouteRequest {
            method: method.to_string(),
            path: format!("/_hooks/{name}"),
            params: vec![],
            query,
            headers: visible_headers(&headers),
            body,
            caller: Caller::default(),
        };
        let runtime = state.packs.runtime().await?;
        runtime
            .call_webhook(&loaded, context, name.clone(), request)
            .await
            .map_err(|e| call_error(&e))
    }
    .await;
    respond(result, slot)
}

/// The pack's answer, or the error (also recorded in the request's audit entry).
fn respond(
    result: Result<PackResponse, FhirError>,
    slot: Option<Extension<AuditSlot>>,
) -> Response {
    match result {
        Ok(answer) => into_response(answer),
        Err(err) => {
            if let Some(Extension(slot)) = slot {
                slot.set_failure(err.message());
            }
            err.into_response()
        }
    }
}

/// The packs a signed-in user of the tenant can use here.
async fn list_enabled(
    State(state): State<AppState>,
    ctx: TenantContext,
) -> Result<FhirResponse, FhirError> {
    let settings = state.packs.tenant(&ctx.tenant).await?;
    let mut packs = Vec::new();
    for (id, setting) in &settings.packs {
        let Some(wide) = setting.wide.as_ref().filter(|w| w.enabled) else {
            continue;
        };
        let Some(version) = &wide.version else {
            continue;
        };
        let loaded = state.packs.loaded(id, version).await?;
        let registration = &loaded.registration;
        packs.push(json!({
            "id": id,
            "version": version,
            "kind": loaded.manifest.kind,
            "description": loaded.manifest.description,
            "routes": registration.routes,
            "forms": registration.forms.iter().map(|f| json!({"id": f.id})).collect::<Vec<_>>(),
            "rules": registration.rules.iter().map(|r| json!({"id": r.id, "description": r.description})).collect::<Vec<_>>(),
            "has_location_settings": !setting.locations.is_empty(),
        }));
    }
    Ok(FhirResponse::json(
        StatusCode::OK,
        &json!({ "packs": packs }),
    ))
}
