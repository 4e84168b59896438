//! FHIR REST handlers at `/t/{tenant}/fhir`. Each maps HTTP onto one engine interaction run in
//! a tenant transaction, then renders the result.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::context::{PublicTenant, TenantContext};
use super::negotiate::{prefer_return, wants_pretty, FhirJson, FhirResponse};
use super::{fhir_history, fhir_search, AppState};
use crate::clock;
use crate::db::Access;
use crate::fhir::bundle::{no_match_outcome, status_line, BundleProcessor, Return};
use crate::fhir::capability::capability_statement;
use crate::fhir::engine::{parse_etag, Written};
use crate::fhir::outcome::{operation_outcome, FhirError, Issue};
use crate::fhir::store::Stored;
use crate::fhir::validate::IdRule;
use crate::in_tenant_tx;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{tenant}/fhir",
            get(fhir_search::search_system).post(bundle),
        )
        .route(
            "/t/{tenant}/fhir/",
            get(fhir_search::search_system).post(bundle),
        )
        .route(
            "/t/{tenant}/fhir/_search",
            axum::routing::post(fhir_search::search_system_post),
        )
        .route(
            "/t/{tenant}/fhir/{type}/_search",
            axum::routing::post(fhir_search::search_type_post),
        )
        .route(
            "/t/{tenant}/fhir/{type}/{id}/{target}",
            get(fhir_search::patient_compartment),
        )
        .route("/t/{tenant}/fhir/metadata", get(metadata))
        .route(
            "/t/{tenant}/fhir/_history",
            get(fhir_history::history_system),
        )
        .route(
            "/t/{tenant}/fhir/{type}",
            get(fhir_search::search_type)
                .post(create)
                .put(conditional_update)
                .patch(conditional_patch)
                .delete(conditional_delete),
        )
        .route(
            "/t/{tenant}/fhir/{type}/_history",
            get(fhir_history::history_type),
        )
        .route(
            "/t/{tenant}/fhir/{type}/{id}",
            get(read).put(update).patch(patch).delete(delete),
        )
        .route(
            "/t/{tenant}/fhir/{type}/{id}/_history",
            get(fhir_history::history_instance),
        )
        .route("/t/{tenant}/fhir/{type}/{id}/_history/{vid}", get(vread))
}

#[derive(Deserialize)]
pub(super) struct TypePath {
    #[serde(rename = "type")]
    pub(super) ty: String,
}

#[derive(Deserialize)]
pub(crate) struct InstancePath {
    #[serde(rename = "type")]
    pub(super) ty: String,
    pub(super) id: String,
}

#[derive(Deserialize)]
struct VersionPath {
    #[serde(rename = "type")]
    ty: String,
    id: String,
    vid: String,
}

pub(super) type Reply = Result<FhirResponse, FhirError>;

pub async fn method_not_allowed() -> FhirError {
    FhirError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Issue::error("not-supported", "this method is not allowed here"),
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Headers every response about one stored version carries.
fn version_headers(response: FhirResponse, stored: &Stored) -> FhirResponse {
    response.header(header::ETAG, stored.etag()).header(
        header::LAST_MODIFIED,
        clock::format_http_date(stored.last_updated),
    )
}

fn read_response(stored: &Stored, query: Option<&str>) -> FhirResponse {
    let body = stored.content.clone().unwrap_or_default();
    version_headers(FhirResponse::raw(StatusCode::OK, body), stored).pretty(wants_pretty(query))
}

/// 201 with `Location` for creations, 200 for updates; the body as `Prefer` asks.
fn write_response(
    ctx: &TenantContext,
    written: &Written,
    headers: &HeaderMap,
    query: Option<&str>,
) -> FhirResponse {
    let status = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let stored = &written.stored;
    let response = match prefer_return(headers, Return::Representation) {
        Return::Representation => {
            FhirResponse::raw(status, stored.content.clone().unwrap_or_default())
        }
        Return::Minimal => FhirResponse::empty(status),
        Return::OperationOutcome => FhirResponse::json(
            status,
            &operation_outcome(&[Issue::information(format!(
                "{}: {}",
                status_line(status),
                stored.versioned_path()
            ))]),
        ),
    };
    version_headers(response, stored)
        .header(
            header::LOCATION,
            format!("{}/{}", ctx.fhir_base, stored.versioned_path()),
        )
        .pretty(wants_pretty(query))
}

/// The CapabilityStatement is public (FHIR clients read it before signing in); it says
/// nothing about the tenant, not even whether it exists.
async fn metadata(
    State(state): State<AppState>,
    tenant: PublicTenant,
    RawQuery(query): RawQuery,
) -> Reply {
    let cs = capability_statement(
        state.engine.schema(),
        &format!("{}/t/{}/fhir", tenant.origin, tenant.tenant),
        env!("CARGO_PKG_VERSION"),
    );
    Ok(FhirResponse::json(StatusCode::OK, &cs).pretty(wants_pretty(query.as_deref())))
}

async fn bundle(
    State(state): State<AppState>,
    ctx: TenantContext,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    FhirJson(body): FhirJson,
) -> Reply {
    let processor = BundleProcessor {
        engine: &state.engine,
        db: &state.db,
        grant: &ctx.grant,
        base: &ctx.fhir_base,
        prefer: prefer_return(&headers, Return::Minimal),
    };
    let response = processor.process(body).await?;
    Ok(FhirResponse::json(StatusCode::OK, &response).pretty(wants_pretty(query.as_deref())))
}

async fn create(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<TypePath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    FhirJson(body): FhirJson,
) -> Reply {
    state.engine.check_type(&p.ty)?;
    let written = match header_str(&headers, "if-none-exist") {
        // Conditional create searches first, so it needs its own transaction.
        Some(if_none_exist) => in_tenant_tx!(state.db, &ctx.grant, Access::Write, |tx| {
            state
                .engine
                .create(&mut tx, &p.ty, body.clone(), Some(if_none_exist))
                .await
        })?,
        // A plain create is validated here and committed with concurrent ones (group commit).
        None => {
            state.engine.authorize_create(&ctx.grant, &p.ty, &body)?;
            state.engine.validate(&p.ty, &body, IdRule::Assigned)?;
            // Packs' identifier checks run before the create queues, outside any transaction.
            state
                .db
                .extensions(&ctx.tenant)
                .await?
                .check_identifiers(&ctx.tenant, &p.ty, &body)
                .await?;
            let id = uuid::Uuid::new_v4().to_string();
            let stored = state.creates.create(&ctx.grant, &p.ty, id, body).await?;
            Written {
                stored,
                created: true,
            }
        }
    };
    Ok(write_response(&ctx, &written, &headers, query.as_deref()))
}

async fn update(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<InstancePath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    FhirJson(body): FhirJson,
) -> Reply {
    let if_match = header_str(&headers, "if-match");
    let written = in_tenant_tx!(state.db, &ctx.grant, Access::Write, |tx| {
        state
            .engine
            .update(&mut tx, &p.ty, &p.id, body.clone(), if_match)
            .await
    })?;
    Ok(write_response(&ctx, &written, &headers, query.as_deref()))
}

async fn conditional_update(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<TypePath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    FhirJson(body): FhirJson,
) -> Reply {
    let criteria = query.clone().unwrap_or_default();
    let if_match = header_str(&headers, "if-match");
    let written = in_tenant_tx!(state.db, &ctx.grant, Access::Write, |tx| {
        state
            .engine
            .conditional_update(&mut tx, &p.ty, &criteria, body.clone(), if_match)
            .await
    })?;
    Ok(write_response(&ctx, &written, &headers, query.as_deref()))
}

async fn patch(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<InstancePath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    FhirJson(body): FhirJson,
) -> Reply {
    let if_match = header_str(&headers, "if-match");
    let written = in_tenant_tx!(state.db, &ctx.grant, Access::Write, |tx| {
        state
            .engine
            .patch(&mut tx, &p.ty, &p.id, &body, if_match)
            .await
    })?;
    Ok(write_response(&ctx, &written, &headers, query.as_deref()))
}

async fn conditional_patch(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<TypePath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    FhirJson(body): FhirJson,
) -> Reply {
    let criteria = query.clone().unwrap_or_default();
    let if_match = header_str(&headers, "if-match");
    let written = in_tenant_tx!(state.db, &ctx.grant, Access::Write, |tx| {
        state
            .engine
            .conditional_patch(&mut tx, &p.ty, &criteria, &body, if_match)
            .await
    })?;
    Ok(write_response(&ctx, &written, &headers, query.as_deref()))
}

async fn delete(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<InstancePath>,
) -> Reply {
    let deleted = in_tenant_tx!(state.db, &ctx.grant, Access::Write, |tx| state
        .engine
        .delete(&mut tx, &p.ty, &p.id)
        .await)?;
    Ok(match deleted {
        Some(stored) => {
            FhirResponse::empty(StatusCode::NO_CONTENT).header(header::ETAG, stored.etag())
        }
        None => FhirResponse::empty(StatusCode::NO_CONTENT),
    })
}

async fn conditional_delete(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<TypePath>,
    RawQuery(query): RawQuery,
) -> Reply {
    let criteria = query.unwrap_or_default();
    let deleted = in_tenant_tx!(state.db, &ctx.grant, Access::Write, |tx| {
        state
            .engine
            .conditional_delete(&mut tx, &p.ty, &criteria)
            .await
    })?;
    Ok(match deleted {
        Some(stored) => {
            FhirResponse::empty(StatusCode::NO_CONTENT).header(header::ETAG, stored.etag())
        }
        None => FhirResponse::json(StatusCode::OK, &no_match_outcome(&p.ty)),
    })
}

async fn read(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<InstancePath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Reply {
    let stored = in_tenant_tx!(state.db, &ctx.grant, Access::SingleStatementRead, |tx| {
        state.engine.read(&mut tx, &p.ty, &p.id).await
    })?;
    // Conditional read by version: If-None-Match with the current ETag is 304.
    if header_str(&headers, "if-none-match")
        .is_some_and(|etag| parse_etag(etag).ok() == Some(stored.version_id))
    {
        return Ok(version_headers(
            FhirResponse::empty(StatusCode::NOT_MODIFIED),
            &stored,
        ));
    }
    Ok(read_response(&stored, query.as_deref()))
}

async fn vread(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<VersionPath>,
    RawQuery(query): RawQuery,
) -> Reply {
    let stored = in_tenant_tx!(state.db, &ctx.grant, Access::SingleStatementRead, |tx| {
        state.engine.vread(&mut tx, &p.ty, &p.id, &p.vid).await
    })?;
    Ok(read_response(&stored, query.as_deref()))
}
