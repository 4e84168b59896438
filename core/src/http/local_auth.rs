//! Sign-in for local users (the embedded default), shaped like Keycloak's direct access
//! grant so scripts need nothing new:
//!
//! - `POST /auth/local/token` (form: `username`, `password`, `tenant`) → `{access_token,
//!   token_type, expires_in}` from the local issuer; `400 {error: "password_change_required"}`
//!   while the password is one-time;
//! - `POST /auth/local/password` (form: `username`, `password`, `new_password`) → `204`;
//! - `GET /auth/local/jwks` → the local issuer's public key set.
//!
//! Sign-ins and failed ones are audited in the tenant asked for.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::audit::record::{AuditRecord, Kind};
use crate::auth::local::TokenRequest;
use crate::auth::users::{LocalUsers, LoginError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/local/token", post(token))
        .route("/auth/local/password", post(change_password))
        .route("/auth/local/jwks", get(jwks))
}

/// OAuth-style error bodies (RFC 6749 §5.2), as token endpoints answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

const TOKEN_SECONDS: i64 = 3600;

#[derive(Deserialize)]
struct TokenForm {
    username: String,
    password: String,
    tenant: String,
}

async fn audit(
    state: &AppState,
    tenant: &str,
    username: &str,
    failure: Option<String>,
    peer: SocketAddr,
) {
    audit_local(
        state,
        tenant,
        username,
        "login",
        failure,
        peer,
        "local sign-in (POST /auth/local/token)",
    )
    .await;
}

/// Audits a local account's sign-in (`subtype` login) or password change in `tenant`'s
/// trail; the admin pages' sign-in records itself the same way.
pub(super) async fn audit_local(
    state: &AppState,
    tenant: &str,
    username: &str,
    subtype: &str,
    failure: Option<String>,
    peer: SocketAddr,
    description: &str,
) {
    let mut record = AuditRecord::new(tenant, Kind::Authentication, subtype, "E");
    record.issuer = state.auth.local.as_ref().map(|l| l.issuer.clone());
    record.subject = Some(username.to_string());
    record.username = Some(username.to_string());
    record.outcome = if failure.is_some() { "4" } else { "0" };
    record.outcome_text = failure;
    record.address = Some(peer.ip().to_string());
    record.description = description.to_string();
    // Unknown tenants have no trail; the writer logs those instead.
    state.audit.record(record, true).await;
}

async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<TokenForm>,
) -> Response {
    let Some(issuer) = state.auth.local.clone() else {
        return oauth_error(
            StatusCode::NOT_FOUND,
            "unsupported",
            "local sign-in is off (auth.local_issuer)",
        );
    };
    let users = LocalUsers::new(state.db.clone());
    let user = match users.sign_in(&form.username, &form.password).await {
        Ok(user) => user,
        Err(err) => {
            audit(
                &state,
                &form.tenant,
                &form.username,
                Some(err.to_string()),
                peer,
            )
            .await;
            return match err {
                LoginError::MustChangePassword => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "password_change_required",
                    "set a new password at POST /auth/local/password first",
                ),
                LoginError::Store(e) => {
                    tracing::error!(error = %e, "local sign-in failed");
                    oauth_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "temporarily_unavailable",
                        "try again",
                    )
                }
                other => oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_grant",
                    &other.to_string(),
                ),
            };
        }
    };
    let member = user.tenants.iter().any(|t| t == "*" || *t == form.tenant);
    let exists = state.tenants.exists(&form.tenant).await.unwrap_or(false);
    if !member || !exists {
        // One answer for "not yours" and "does not exist".
        audit(
            &state,
            &form.tenant,
            &form.username,
            Some("not a member of this tenant".into()),
            peer,
        )
        .await;
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "this account may not sign in to this tenant",
        );
    }
    let issued = issuer.issue(&TokenRequest {
        tenant: form.tenant.clone(),
        subject: user.username.clone(),
        username: Some(user.username.clone()),
        roles: user.roles.clone(),
        patient: user.patient.clone(),
        lifetime_seconds: TOKEN_SECONDS,
    });
    match issued {
        Ok(access_token) => {
            audit(&state, &form.tenant, &form.username, None, peer).await;
            (
                [(axum::http::header::CACHE_CONTROL, "no-store")],
                Json(json!({
                    "access_token": access_token,
                    "token_type": "Bearer",
                    "expires_in": TOKEN_SECONDS,
                })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot sign a local token");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "cannot sign a token",
            )
        }
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    username: String,
    password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let users = LocalUsers::new(state.db.clone());
    match users
        .change_password(&form.username, &form.password, &form.new_password)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(LoginError::WeakPassword) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &LoginError::WeakPassword.to_string(),
        ),
        Err(LoginError::Store(e)) => {
            tracing::error!(error = %e, "password change failed");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again",
            )
        }
        Err(other) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            &other.to_string(),
        ),
    }
}

async fn jwks(State(state): State<AppState>) -> Response {
    match &state.auth.local {
        Some(issuer) => Json(issuer.jwks()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
