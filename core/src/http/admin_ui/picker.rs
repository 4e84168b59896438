//! `GET /admin`: the way in without an organization in the URL. The session cookie is
//! scoped to `/t/{tenant}/`, so the pages of one organization live under its path; this page
//! asks which one and goes there.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::page::{Chrome, ErrorLink};
use super::templates;

/// `GET /admin`: which organization to administer. Tenants are not listed: whether one
/// exists is not for anyone to learn before signing in.
pub async fn page(Query(q): Query<HashMap<String, String>>) -> Response {
    let asked = q
        .get("tenant")
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let mut chrome = Chrome {
        title: "Tessera administration".into(),
        ..Chrome::default()
    };
    if !asked.is_empty() {
        if crate::tenants::validate_slug(&asked).is_ok() {
            return Redirect::to(&format!("/t/{asked}/admin/packs")).into_response();
        }
        chrome.errors = vec![ErrorLink {
            href: Some("#tenant".into()),
            text: "Enter the organization's id as it appears in its addresses (/t/<id>/...): lower-case letters, digits and dashes.".into(),
        }];
    }
    templates::page(
        if chrome.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        "picker",
        &json!({
            "tenant_error": chrome.errors.first().map(|e| e.text.clone()),
            "chrome": chrome,
            "tenant": asked,
        }),
    )
}
