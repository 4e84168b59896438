//! FHIR search over HTTP: `GET/POST [type]?...` and `[type]/_search`, search across types at
//! the base, paging links (`?_getpages=`), `Patient/{id}/{type}` compartment searches and
//! `Patient/{id}/$everything`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::context::TenantContext;
use super::fhir_routes::{InstancePath, Reply, TypePath};
use super::negotiate::{prefer_strict, wants_pretty, FhirResponse};
use super::AppState;
use crate::db::Access;
use crate::fhir::extensions::TenantExtensions;
use crate::fhir::outcome::{FhirError, FhirResult, Issue};
use crate::fhir::search::execute::{
    next_link, patient_compartment_params, Links, Scope, Searcher, DEFAULT_COUNT,
};
use crate::fhir::search::extract::date_range;
use crate::fhir::search::registry::SearchRegistry;
use crate::fhir::search::request::{self, Filter, SearchRequest};
use crate::fhir::search::snapshot::Snapshot;
use crate::in_tenant_tx;

/// `GET [type]?...`
pub async fn search_type(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<TypePath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Reply {
    let query = query.unwrap_or_default();
    let scope = Scope {
        resource_type: Some(p.ty.clone()),
        ..Scope::default()
    };
    run(&state, &ctx, &headers, scope, &query).await
}

/// `POST [type]/_search` with the parameters form-encoded in the body (and the URL).
pub async fn search_type_post(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<TypePath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Reply {
    let query = merged_query(&headers, query, &body)?;
    let scope = Scope {
        resource_type: Some(p.ty.clone()),
        ..Scope::default()
    };
    run(&state, &ctx, &headers, scope, &query).await
}

/// `GET [base]?...`: a search across types, or a later page of any search.
pub async fn search_system(
    State(state): State<AppState>,
    ctx: TenantContext,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Reply {
    let query = query.unwrap_or_default();
    if query.split('&').any(|p| p.starts_with("_getpages=")) {
        return page(&state, &ctx, &query).await;
    }
    system(&state, &ctx, &headers, &query).await
}

/// `POST [base]/_search`.
pub async fn search_system_post(
    State(state): State<AppState>,
    ctx: TenantContext,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Reply {
    let query = merged_query(&headers, query, &body)?;
    system(&state, &ctx, &headers, &query).await
}

#[derive(Deserialize)]
pub struct CompartmentPath {
    #[serde(rename = "type")]
    ty: String,
    id: String,
    target: String,
}

/// `GET Patient/{id}/$everything` and `GET Patient/{id}/{type}?...`.
pub async fn patient_compartment(
    State(state): State<AppState>,
    ctx: TenantContext,
    Path(p): Path<CompartmentPath>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Reply {
    let query = query.unwrap_or_default();
    if p.ty != "Patient" {
        return Err(FhirError::not_found(format!(
            "{}/{}/{} is not an operation or compartment this server has",
            p.ty, p.id, p.target
        )));
    }
    // The patient must exist (and be live) for its compartment to be searched.
    let instance = InstancePath {
        ty: p.ty.clone(),
        id: p.id.clone(),
    };
    in_tenant_tx!(state.db, &ctx.grant, Access::SingleStatementRead, |tx| {
        state.engine.read(&mut tx, &instance.ty, &instance.id).await
    })?;
    if p.target == "$everything" {
        return everything(&state, &ctx, &p.id, &query).await;
    }
    state.engine.check_type(&p.target)?;
    if patient_compartment_params(&p.target).is_none() && p.target != "Patient" {
        return Err(FhirError::not_found(format!(
            "{} is not in the patient compartment",
            p.target
        )));
    }
    let scope = Scope {
        resource_type: Some(p.target.clone()),
        patient: Some(p.id.clone()),
        ..Scope::default()
    };
    run(&state, &ctx, &headers, scope, &query).await
}

/// The query string of a POST `_search`: the URL's parameters and the form body's.
fn merged_query(headers: &HeaderMap, query: Option<String>, body: &[u8]) -> FhirResult<String> {
    if !body.is_empty() {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(FhirError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Issue::error(
                    "not-supported",
                    "POST _search takes its parameters as application/x-www-form-urlencoded",
                ),
            ));
        }
    }
    let body = std::str::from_utf8(body)
        .map_err(|_| FhirError::invalid("the _search body is not UTF-8"))?;
    Ok([query.unwrap_or_default().as_str(), body.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("&"))
}

/// A pack's parameter whose index is still being built for older resources may miss some:
/// say so in the Bundle rather than answer silently incomplete.
fn warn_while_indexing(request: &mut SearchRequest, extensions: &TenantExtensions) {
    fn walk<'a>(ty: &'a str, filter: &'a Filter, out: &mut Vec<(&'a str, &'a str)>) {
        match filter {
            Filter::Param { code, .. } => out.push((ty, code)),
            Filter::Chain {
                reference,
                target_type,
                inner,
            } => {
                out.push((ty, reference));
                walk(target_type, inner, out)
            }
            Filter::Has {
                source_type,
                reference,
                inner,
            } => {
                out.push((source_type, reference));
                walk(source_type, inner, out)
            }
        }
    }
    let mut used = Vec::new();
    for filter in &request.filters {
        walk(&request.resource_type, filter, &mut used);
    }
    let building: Vec<String> = used
        .into_iter()
        .filter(|(ty, code)| extensions.is_building(ty, code))
        .map(|(ty, code)| format!("{ty}.{code}"))
        .collect();
    for name in building {
        request.ignored.push(Issue::warning(
            "incomplete",
            format!("the index of {name} is still being built for resources stored before its pack was enabled; results may be incomplete"),
        ));
    }
}

/// The search parameters of the caller's tenant: HL7's and its packs'.
async fn tenant_registry(
    state: &AppState,
    ctx: &TenantContext,
) -> FhirResult<std::sync::Arc<SearchRegistry>> {
    Ok(state.db.extensions(&ctx.tenant).await?.registry().clone())
}

/// Parses and runs a type-level (or compartment) search and renders its first page.
async fn run(
    state: &AppState,
    ctx: &TenantContext,
    headers: &HeaderMap,
    scope: Scope,
    query: &str,
) -> Reply {
    let ty = scope.resource_type.clone().unwrap_or_default();
    state.engine.check_type(&ty)?;
    let extensions = state.db.extensions(&ctx.tenant).await?;
    let mut request = request::parse(extensions.registry(), &ty, query, prefer_strict(headers))?;
    warn_while_indexing(&mut request, &extensions);
    let self_url = match &scope.patient {
        Some(patient) => format!("{}/Patient/{patient}/{ty}?{query}", ctx.fhir_base),
        None => format!("{}/{ty}?{query}", ctx.fhir_base),
    };
    first_page(state, ctx, &scope, &request, self_url, query).await
}

async fn first_page(
    state: &AppState,
    ctx: &TenantContext,
    scope: &Scope,
    request: &SearchRequest,
    self_url: String,
    query: &str,
) -> Reply {
    let registry = tenant_registry(state, ctx).await?;
    let searcher = Searcher {
        registry: &registry,
    };
    let links = Links {
        fhir_base: &ctx.fhir_base,
        self_url: self_url.trim_end_matches('?').to_string(),
        query,
    };
    let (bundle, snapshot) = in_tenant_tx!(state.db, &ctx.grant, Access::Read, |tx| {
        searcher.search(&mut tx, scope, request, &links).await
    })?;
    finish_first_page(state, ctx, bundle, snapshot, request, query).await
}

/// Stores a first page's snapshot (when it has more pages), adds its `next` link and renders.
async fn finish_first_page(
    state: &AppState,
    ctx: &TenantContext,
    mut bundle: Value,
    snapshot: Option<Snapshot>,
    request: &SearchRequest,
    query: &str,
) -> Reply {
    if let Some(snapshot) = snapshot {
        let id = state
            .engine
            .snapshots()
            .put(&state.db, &ctx.tenant, snapshot)
            .await?;
        next_link(
            &mut bundle,
            &ctx.fhir_base,
            &id,
            request.count.unwrap_or(DEFAULT_COUNT),
        );
    }
    Ok(respond(&bundle, query))
}

fn respond(bundle: &Value, query: &str) -> FhirResponse {
    FhirResponse::json(StatusCode::OK, bundle).pretty(wants_pretty(Some(query)))
}

/// A search across types: only parameters common to every type (and `_type`) apply.
async fn system(state: &AppState, ctx: &TenantContext, headers: &HeaderMap, query: &str) -> Reply {
    let strict = prefer_strict(headers);
    let registry = tenant_registry(state, ctx).await?;
    let registry = &*registry;
    let mut types = Vec::new();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("_type", list)) => {
                let list = percent_encoding::percent_decode_str(list)
                    .decode_utf8_lossy()
                    .to_string();
                for ty in list.split(',').filter(|t| !t.is_empty()) {
                    state.engine.check_type(ty)?;
                    types.push(ty.to_string());
                }
            }
            _ => rest.push(pair),
        }
    }
    // Parse as for any type (Patient has every common parameter), then refuse the
    // parameters that are not common to all types.
    let mut request = request::parse(registry, "Patient", &rest.join("&"), strict)?;
    let mut kept = Vec::new();
    for filter in std::mem::take(&mut request.filters) {
        let code = filter_code(&filter);
        let common = registry.get("Patient", &code).is_some_and(|p| {
            p.definition
                .base
                .iter()
                .any(|b| b == "Resource" || b == "DomainResource")
        });
        if common {
            kept.push(filter);
        } else {
            let issue = Issue::error(
                "not-supported",
                format!("{code:?} is not a parameter of every type; search a type, or use _id, _lastUpdated, _tag, _profile, _security, _source"),
            )
            .at(code.clone());
            if strict {
                return Err(FhirError::new(StatusCode::BAD_REQUEST, issue));
            }
            request.ignored.push(Issue {
                severity: "warning",
                ..issue
            });
        }
    }
    request.filters = kept;
    for sort in &request.sort {
        if !matches!(sort.code.as_str(), "_id" | "_lastUpdated") {
            return Err(FhirError::invalid(format!(
                "a search across types sorts by _id or _lastUpdated, not {:?}",
                sort.code
            )));
        }
    }
    let scope = Scope {
        resource_type: None,
        types,
        patient: None,
    };
    let self_url = format!("{}?{query}", ctx.fhir_base);
    first_page(state, ctx, &scope, &request, self_url, query).await
}

fn filter_code(filter: &Filter) -> String {
    match filter {
        Filter::Param { code, .. } => code.clone(),
        Filter::Chain { reference, .. } => reference.clone(),
        Filter::Has { .. } => "_has".to_string(),
    }
}

/// A later page: `?_getpages={snapshot}&_getpagesoffset={n}&_count={c}`.
async fn page(state: &AppState, ctx: &TenantContext, query: &str) -> Reply {
    let mut id = String::new();
    let mut offset = 0usize;
    let mut count = DEFAULT_COUNT;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "_getpages" => id = v.into_owned(),
            "_getpagesoffset" => {
                offset = v
                    .parse()
                    .map_err(|_| FhirError::invalid("_getpagesoffset is not a number"))?
            }
            "_count" => {
                count = v
                    .parse()
                    .map_err(|_| FhirError::invalid("_count is not a number"))?
            }
            _ => {}
        }
    }
    let registry = tenant_registry(state, ctx).await?;
    let searcher = Searcher {
        registry: &registry,
    };
    let registry = &*registry;
    let bundle = in_tenant_tx!(state.db, &ctx.grant, Access::Read, |tx| {
        async {
            let snapshot = state.engine.snapshots().get(&mut tx, &id).await?;
            // The original request decides includes and shaping on every page.
            let request = match &snapshot {
                Some(s) => {
                    let query: Vec<&str> = s
                        .query
                        .split('&')
                        .filter(|p| !p.starts_with("_type="))
                        .collect();
                    request::parse(
                        registry,
                        s.resource_type.as_deref().unwrap_or("Patient"),
                        &query.join("&"),
                        false,
                    )?
                }
                None => SearchRequest::default(),
            };
            searcher
                .page(
                    &mut tx,
                    state.engine.snapshots(),
                    &ctx.fhir_base,
                    &id,
                    offset,
                    count,
                    &request,
                )
                .await
        }
        .await
    })?;
    Ok(respond(&bundle, query))
}

/// `Patient/{id}/$everything` with `_since`, `_type` and `_count`.
async fn everything(state: &AppState, ctx: &TenantContext, patient: &str, query: &str) -> Reply {
    let mut since = None;
    let mut types = Vec::new();
    let mut request = SearchRequest::default();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "_since" => {
                since = Some(
                    date_range(&v)
                        .ok_or_else(|| {
                            FhirError::invalid(format!("_since={v} is not a FHIR instant"))
                        })?
                        .0,
                )
            }
            "_type" => {
                for ty in v.split(',').filter(|t| !t.is_empty()) {
                    state.engine.check_type(ty)?;
                    types.push(ty.to_string());
                }
            }
            "_count" => {
                let n: usize = v
                    .parse()
                    .map_err(|_| FhirError::invalid(format!("_count={v} is not a number")))?;
                request.count = Some(n.clamp(1, request::MAX_COUNT));
            }
            "_format" | "_pretty" => {}
            other => {
                return Err(FhirError::invalid(format!(
                    "$everything takes _since, _type and _count, not {other:?}"
                )))
            }
        }
    }
    let registry = tenant_registry(state, ctx).await?;
    let searcher = Searcher {
        registry: &registry,
    };
    let scope = Scope {
        patient: Some(patient.to_string()),
        ..Scope::default()
    };
    let links = Links {
        fhir_base: &ctx.fhir_base,
        self_url: format!("{}/Patient/{patient}/$everything?{query}", ctx.fhir_base)
            .trim_end_matches('?')
            .to_string(),
        query: "",
    };
    let (bundle, snapshot) = in_tenant_tx!(state.db, &ctx.grant, Access::Read, |tx| {
        async {
            let matches = searcher.everything(&mut tx, patient, since, &types).await?;
            searcher
                .first_page(&mut tx, &scope, &request, &links, matches, None)
                .await
        }
        .await
    })?;
    finish_first_page(state, ctx, bundle, snapshot, &request, query).await
}
