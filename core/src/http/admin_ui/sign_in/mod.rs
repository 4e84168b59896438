//! Signing in to the admin pages (`forms.rs`: the pages and their login-CSRF token;
//! `start.rs`: the session; `password.rs`: replacing a one-time password):
//!
//! - `GET /t/{tenant}/admin/sign-in?return_to=...` offers the organization's provider (the
//!   code flow of `http/signon.rs`, which comes back to `return_to`) and, where local
//!   accounts are on, a username and password form;
//! - `POST /t/{tenant}/admin/sign-in` checks a local account; a one-time password leads to
//!   the form that replaces it, `POST /t/{tenant}/admin/password`, which then signs in.
//!
//! A local sign-in gets a token from the local issuer and verifies it like any token
//! (`Auth::authenticate`), so the session's identity comes from a verified token, as a
//! provider sign-in's does. Both forms are protected against login CSRF by a random token in
//! a `SameSite=Strict` cookie that the form must repeat. Sign-ins, failures and password
//! changes are audited in the tenant's trail, as `POST /auth/local/token` does.

mod forms;
mod password;
mod start;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::form::FormData;
use super::page::{Chrome, Problems};
use super::session::message_page;
use crate::auth::sessions;
use crate::auth::users::{LocalUsers, LoginError};
use crate::http::local_auth::audit_local;
use crate::http::signon;
use crate::http::AppState;
use forms::{password_page, sign_in_form_ok, sign_in_page, sign_in_token, stale_form, SignInView};
pub use password::password;
use start::start_session;

#[derive(Deserialize, Default)]
pub struct ReturnTo {
    pub return_to: Option<String>,
}

/// Where to go after signing in: a path inside this tenant (never elsewhere: that would be
/// an open redirect), by default the packs list.
fn return_to(tenant: &str, asked: Option<&str>) -> String {
    match asked {
        Some(path) if signon::is_safe_return_to(tenant, path) => path.to_string(),
        _ => format!("/t/{tenant}/admin/packs"),
    }
}

/// The page for a tenant slug that cannot be one (whether a valid one exists is not said).
fn bad_tenant(tenant: &str) -> Option<Response> {
    crate::tenants::validate_slug(tenant).err().map(|_| {
        message_page(
            StatusCode::NOT_FOUND,
            Chrome::default(),
            "Page not found",
            "There is no organization with that name here.",
        )
    })
}

/// What both sign-in posts (`local` and `password`) start from, once the tenant slug and
/// the login-CSRF token are checked.
struct Posted {
    /// Where to go once signed in.
    target: String,
    /// The login-CSRF token, repeated in the page shown again.
    token: String,
    username: String,
}

// The error is the page to answer with, made once per request: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn posted(tenant: &str, headers: &HeaderMap, form: &FormData) -> Result<Posted, Response> {
    if let Some(page) = bad_tenant(tenant) {
        return Err(page);
    }
    if !sign_in_form_ok(headers, form) {
        return Err(stale_form());
    }
    Ok(Posted {
        target: return_to(tenant, form.get("return_to")),
        token: sign_in_token(headers),
        username: form.text("username").trim().to_string(),
    })
}

pub async fn page(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(q): Query<ReturnTo>,
    headers: HeaderMap,
) -> Response {
    if let Some(page) = bad_tenant(&tenant) {
        return page;
    }
    let target = return_to(&tenant, q.return_to.as_deref());
    // Already signed in: straight on.
    if let Some(id) = signon::session_cookie(&headers) {
        if let Ok(Some(_)) = sessions::find(&state.db, &tenant, &id).await {
            return Redirect::to(&target).into_response();
        }
    }
    let token = sign_in_token(&headers);
    sign_in_page(
        &state,
        SignInView {
            tenant: &tenant,
            return_to: &target,
            token: &token,
            username: "",
            problems: &Problems::default(),
            notice: None,
        },
        StatusCode::OK,
    )
}

pub async fn local(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    let Posted {
        target,
        token,
        username,
    } = match posted(&tenant, &headers, &form) {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let mut problems = Problems::default();
    let view = |problems| SignInView::new(&tenant, &target, &token, &username, problems);
    if state.auth.local.is_none() {
        problems.add(None, "Local accounts are switched off on this server: sign in with your organization's account.");
        return sign_in_page(&state, view(&problems), StatusCode::NOT_FOUND);
    }
    if username.is_empty() {
        problems.add(Some("username"), "Enter your username.");
    }
    if form.text("password").is_empty() {
        problems.add(Some("password"), "Enter your password.");
    }
    if !problems.is_empty() {
        return sign_in_page(&state, view(&problems), StatusCode::BAD_REQUEST);
    }
    let users = LocalUsers::new(state.db.clone());
    let description = format!("admin pages: local sign-in (POST /t/{tenant}/admin/sign-in)");
    let audit_login = |failure: Option<String>| {
        audit_local(
            &state,
            &tenant,
            &username,
            "login",
            failure,
            peer,
            &description,
        )
    };
    match users.sign_in(&username, form.text("password")).await {
        Ok(user) => match start_session(&state, &tenant, &user, &headers, peer, &target).await {
            Ok(response) => response,
            Err(message) => {
                audit_login(Some(message.clone())).await;
                problems.add(None, message);
                sign_in_page(&state, view(&problems), StatusCode::FORBIDDEN)
            }
        },
        Err(LoginError::MustChangePassword) => {
            audit_login(Some(LoginError::MustChangePassword.to_string())).await;
            password_page(&state, view(&problems), StatusCode::OK)
        }
        Err(LoginError::Store(e)) => {
            tracing::error!(error = %e, "local sign-in failed");
            problems.add(
                None,
                "The account store is not available; try again in a moment.",
            );
            sign_in_page(&state, view(&problems), StatusCode::SERVICE_UNAVAILABLE)
        }
        Err(other) => {
            audit_login(Some(other.to_string())).await;
            let field = (other == LoginError::BadCredentials).then_some("password");
            problems.add(field, sentence(&other.to_string()));
            sign_in_page(&state, view(&problems), StatusCode::UNAUTHORIZED)
        }
    }
}

/// An error message as a sentence: capital first letter, full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
