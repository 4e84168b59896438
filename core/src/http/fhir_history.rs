//! History at instance, type and tenant level: newest first, `_since`, `_count`, and paging by
//! an opaque cursor so pages stay stable while others write.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::context::TenantContext;
use super::fhir_routes::{InstancePath, Reply, TypePath};
use super::negotiate::{wants_pretty, FhirResponse};
use super::AppState;
use crate::auth::rbac::{Action, Reach};
use crate::clock;
use crate::db::Access;
use crate::fhir::access;
use crate::fhir::outcome::{FhirError, FhirResult};
use crate::fhir::store::{self, HistoryCursor, HistoryScope, Stored};
use crate::in_tenant_tx;

pub(super) async fn history_system(
    State(state): State<AppState>,
    ctx: TenantContext,
    RawQuery(query): RawQuery,
) -> Reply {
    history(&state, &ctx, HistoryScope::default(), query.as_deref()).await
}

pub(super) async fn history_type(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<TypePath>,
    RawQuery(query): RawQuery,
) -> Reply {
    state.engine.check_type(&p.ty)?;
    history(
        &state,
        &ctx,
        HistoryScope {
            resource_type: Some(p.ty),
            id: None,
        },
        query.as_deref(),
    )
    .await
}

pub(super) async fn history_instance(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<InstancePath>,
    RawQuery(query): RawQuery,
) -> Reply {
    state.engine.check_type(&p.ty)?;
    let scope = HistoryScope {
        resource_type: Some(p.ty.clone()),
        id: Some(p.id.clone()),
    };
    // An instance that never existed is 404, not an empty history.
    in_tenant_tx!(state.db, &ctx.grant, Access::Read, |tx| {
        match store::current(&mut tx, &p.ty, &p.id, false).await? {
            Some(_) => Ok(()),
            None => Err(FhirError::not_found(format!(
                "{}/{} does not exist",
                p.ty, p.id
            ))),
        }
    })?;
    history(&state, &ctx, scope, query.as_deref()).await
}

const DEFAULT_HISTORY_COUNT: i64 = 100;
const MAX_HISTORY_COUNT: i64 = 1000;

/// A `history` Bundle, newest first, paged by an opaque cursor so pages stay stable while
/// others write (new versions land before the first page, never inside later ones).
async fn history(
    state: &AppState,
    ctx: &TenantContext,
    scope: HistoryScope,
    query: Option<&str>,
) -> Reply {
    let mut count = DEFAULT_HISTORY_COUNT;
    let mut since = None;
    let mut cursor = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "_count" => {
                count = value
                    .parse::<i64>()
                    .ok()
                    .filter(|c| *c >= 0)
                    .ok_or_else(|| {
                        FhirError::invalid(format!("_count={value} is not a non-negative integer"))
                    })?
                    .min(MAX_HISTORY_COUNT)
            }
            "_since" => {
                since = Some(clock::parse_fhir_time(&value).ok_or_else(|| {
                    FhirError::invalid(format!(
                        "_since={value} is not a FHIR instant like 2024-01-31T12:00:00Z"
                    ))
                })?)
            }
            "_cursor" => {
                cursor =
                    Some(HistoryCursor::decode(&value).ok_or_else(|| {
                        FhirError::invalid("_cursor is not one this server issued")
                    })?)
            }
            "_format" | "_pretty" => {}
            other => {
                return Err(FhirError::not_supported(format!(
                    "history does not support the parameter {other:?} (use _count, _since)"
                )))
            }
        }
    }
    if let Some(ty) = &scope.resource_type {
        ctx.grant.require(Action::Read, ty)?;
    }
    let versions = in_tenant_tx!(state.db, &ctx.grant, Access::Read, |tx| {
        FhirResult::Ok(store::history(&mut tx, &scope, since, cursor.as_ref(), count + 1).await?)
    })?;
    let has_more = versions.len() as i64 > count;
    let page: Vec<&Stored> = versions.iter().take(count as usize).collect();

    let path = match (&scope.resource_type, &scope.id) {
        (Some(ty), Some(id)) => format!("{}/{ty}/{id}/_history", ctx.fhir_base),
        (Some(ty), None) => format!("{}/{ty}/_history", ctx.fhir_base),
        _ => format!("{}/_history", ctx.fhir_base),
    };
    let mut base_params: Vec<(String, String)> = vec![("_count".into(), count.to_string())];
    if let Some(since) = since {
        base_params.push(("_since".into(), clock::format_instant(since)));
    }
    let link = |extra: Option<String>| {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &base_params {
            params.append_pair(k, v);
        }
        if let Some(c) = extra {
            params.append_pair("_cursor", &c);
        }
        format!("{path}?{}", params.finish())
    };
    let mut links =
        vec![json!({"relation": "self", "url": link(cursor.as_ref().map(HistoryCursor::encode))})];
    if has_more {
        if let Some(last) = page.last() {
            links.push(
                json!({"relation": "next", "url": link(Some(HistoryCursor::of(last).encode()))}),
            );
        }
    }
    // Versions the caller may not read are left out (a deletion has no content to place in
    // a compartment, so it shows only to those who may read the type everywhere).
    let registry = state.engine.registry();
    let visible = |s: &&&Stored| match s.json() {
        Some(resource) => access::allows(
            &ctx.grant,
            registry,
            Action::Read,
            &s.resource_type,
            &resource,
        ),
        None => ctx.grant.reach(Action::Read, &s.resource_type) == Some(Reach::Everywhere),
    };
    let entries: Vec<Value> = page
        .iter()
        .filter(visible)
        .map(|s| history_entry(&ctx.fhir_base, s))
        .collect();
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "history",
        "link": links,
        "entry": entries,
    });
    Ok(FhirResponse::json(StatusCode::OK, &bundle).pretty(wants_pretty(query)))
}

fn history_entry(base: &str, s: &Stored) -> Value {
    let (url, status) = match s.method.as_str() {
        "POST" => (s.resource_type.clone(), "201 Created"),
        "DELETE" => (format!("{}/{}", s.resource_type, s.id), "204 No Content"),
        _ if s.version_id == 1 => (format!("{}/{}", s.resource_type, s.id), "201 Created"),
        _ => (format!("{}/{}", s.resource_type, s.id), "200 OK"),
    };
    let mut entry = json!({
        "fullUrl": format!("{base}/{}/{}", s.resource_type, s.id),
        "request": { "method": s.method, "url": url },
        "response": {
            "status": status,
            "etag": s.etag(),
            "lastModified": clock::format_instant(s.last_updated),
        },
    });
    if let Some(resource) = s.json() {
        entry["resource"] = resource;
    }
    entry
}
