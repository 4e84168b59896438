//! Forms over HTTP (`docs/forms.md`, "Forms in the server"):
//! - `GET /t/{t}/forms` — the forms the tenant's packs offer (a page for browsers, JSON
//!   otherwise);
//! - `GET /t/{t}/forms/_assets/{form.js|forms.css}` — the form script and style sheet;
//! - `GET /t/{t}/forms/{form}?patient=&encounter=&locale=` — the form for a patient, prefilled;
//! - `GET /t/{t}/forms/{form}/Questionnaire` — the form as a FHIR Questionnaire;
//! - `POST /t/{t}/forms/{form}` — a submission: a browser's form post, or a
//!   QuestionnaireResponse as JSON;
//! - `GET /t/{t}/forms/responses?patient=` — a patient's responses;
//! - `GET`/`PUT /t/{t}/forms/responses/{id}` — one response; amend it;
//! - `POST /t/{t}/forms/responses/{id}/$entered-in-error` — withdraw it.
//!
//! Every route but the assets takes `TenantContext`: the user's grant decides what is read
//! and written, exactly as over the FHIR API, and every request is audited.

mod fill;
mod page;
mod responses;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tessera_forms::{ItemError, Locale};

use super::context::TenantContext;
use super::negotiate::FhirResponse;
use super::AppState;
use crate::fhir::outcome::{operation_outcome, FhirError, Issue};
use crate::forms::catalog::CatalogForm;
use crate::forms::records::Records;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/forms", get(list))
        .route("/t/{tenant}/forms/_assets/{file}", get(asset))
        .route("/t/{tenant}/forms/responses", get(responses::list))
        .route(
            "/t/{tenant}/forms/responses/{id}",
            get(responses::read).put(responses::amend),
        )
        .route(
            "/t/{tenant}/forms/responses/{id}/$entered-in-error",
            post(responses::withdraw),
        )
        .route(
            "/t/{tenant}/forms/{form}",
            get(fill::show).post(fill::submit),
        )
        .route(
            "/t/{tenant}/forms/{form}/Questionnaire",
            get(fill::questionnaire),
        )
}

/// The form script and style sheet. Public: they hold nothing of any tenant.
async fn asset(Path((_tenant, file)): Path<(String, String)>) -> Response {
    let (content_type, body) = match file.as_str() {
        "form.js" => ("text/javascript; charset=utf-8", tessera_forms::FORM_SCRIPT),
        "forms.css" => ("text/css; charset=utf-8", include_str!("assets/forms.css")),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The user's view of the store, for the forms' reads and writes.
fn records<'a>(state: &'a AppState, ctx: &'a TenantContext) -> Records<'a> {
    Records {
        state,
        grant: &ctx.grant,
        fhir_base: &ctx.fhir_base,
    }
}

/// A form the tenant offers, or 404 naming it.
async fn find_form(
    state: &AppState,
    ctx: &TenantContext,
    id: &str,
) -> Result<Arc<CatalogForm>, FhirError> {
    let forms = state.packs.forms(&ctx.tenant).await?;
    forms.get(id).cloned().ok_or_else(|| {
        FhirError::not_found(format!(
            "no form {id:?} is offered here: enable the pack that provides it, or see GET /t/{}/forms",
            ctx.tenant
        ))
    })
}

/// The form a response answers (`questionnaire` = `url|version`), among the tenant's.
async fn form_answered_by(
    state: &AppState,
    ctx: &TenantContext,
    response: &serde_json::Value,
) -> Result<Arc<CatalogForm>, FhirError> {
    let canonical = response["questionnaire"].as_str().unwrap_or_default();
    let forms = state.packs.forms(&ctx.tenant).await?;
    forms
        .forms
        .values()
        .find(|f| f.form.canonical() == canonical)
        .cloned()
        .ok_or_else(|| {
            FhirError::new(
                StatusCode::CONFLICT,
                Issue::error(
                    "not-found",
                    format!("the response answers {canonical:?}, which is not a form version this organization runs"),
                ),
            )
        })
}

/// The language of a page: asked for (`locale=`), else the browser's first choice, else the
/// server's default.
fn pick_locale(state: &AppState, asked: Option<&str>, headers: &HeaderMap) -> Locale {
    let from_browser = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|tag| tag.split(';').next().unwrap_or(tag).trim().to_string())
        .filter(|tag| !tag.is_empty() && tag != "*");
    let tag = asked
        .map(str::to_string)
        .filter(|t| valid_locale(t))
        .or(from_browser.filter(|t| valid_locale(t)))
        .unwrap_or_else(|| state.config.forms.default_locale.clone());
    Locale::new(&tag)
}

/// BCP 47-looking tags only: they end up in a page's `lang` attribute.
fn valid_locale(tag: &str) -> bool {
    (2..=35).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Per-item problems as an OperationOutcome (422): each issue names its item.
fn item_outcome(errors: &[ItemError]) -> Response {
    let issues: Vec<Issue> = errors
        .iter()
        .map(|e| {
            let issue = Issue::error(
                "invalid",
                if e.link_id.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.link_id, e.message)
                },
            );
            if e.link_id.is_empty() {
                issue
            } else {
                issue.at(format!(
                    "QuestionnaireResponse.item.where(linkId='{}')",
                    e.link_id.replace('\'', "\\'")
                ))
            }
        })
        .collect();
    FhirResponse::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &operation_outcome(&issues),
    )
    .into_response()
}

/// `GET /t/{t}/forms`: what the tenant's packs offer.
async fn list(
    State(state): State<AppState>,
    ctx: TenantContext,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let forms = match state.packs.forms(&ctx.tenant).await {
        Ok(forms) => forms,
        Err(err) if page::wants_html(&headers) => return page::error_page(&ctx.tenant, &err),
        Err(err) => return err.into_response(),
    };
    let locale = pick_locale(&state, query.get("locale").map(String::as_str), &headers);
    let patient = query
        .get("patient")
        .filter(|p| crate::fhir::validate::is_valid_id(p));
    let entries: Vec<serde_json::Value> = forms
        .forms
        .values()
        .map(|f| {
            let mut href = format!("/t/{}/forms/{}", ctx.tenant, f.form.id());
            if let Some(p) = patient {
                href.push_str(&format!("?patient={p}"));
            }
            json!({
                "id": f.form.id(),
                "version": f.form.version().to_string(),
                "title": f.form.title(&locale),
                "url": f.form.url(),
                "pack": f.pack,
                "pack_version": f.pack_version,
                "href": href,
                "questionnaire": format!("/t/{}/forms/{}/Questionnaire", ctx.tenant, f.form.id()),
            })
        })
        .collect();
    if page::wants_html(&headers) {
        let body = page::fragment("list", &json!({ "forms": entries }));
        return page::page(
            StatusCode::OK,
            &page::Frame {
                tenant: &ctx.tenant,
                title: "Forms",
                lang: locale.tag(),
                patient: patient.map(String::as_str),
                notice: None,
                alerts: &[],
            },
            &body,
        );
    }
    FhirResponse::json(StatusCode::OK, &json!({ "forms": entries })).into_response()
}
