//! Browser sign-on at `/t/{tenant}/auth/...`:
//!
//! - `GET login?return_to=/t/{tenant}/...` sends the browser to the tenant's provider;
//! - `GET callback` completes the code flow, starts a session (HttpOnly, SameSite=Lax cookie,
//!   `Secure` behind https) and returns to `return_to`;
//! - `GET session` tells a signed-in page who it is and the CSRF token to send with every
//!   state-changing request (`X-CSRF-Token` header, or a `csrf` form field);
//! - `POST logout` (form with `csrf`) ends the session and the provider's (RP-initiated
//!   logout), then lands on `logged-out`.
//!
//! Sign-ins, failed sign-ins and sign-outs are audited.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::context::PublicTenant;
use super::negotiate::FhirResponse;
use super::AppState;
use crate::audit::record::{AuditRecord, Kind};
use crate::auth::discovery;
use crate::auth::principal::Principal;
use crate::auth::sessions::{self, COOKIE};
use crate::auth::signon::{self, SignOnError};
use crate::fhir::outcome::{FhirError, Issue};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/auth/login", get(login))
        .route("/t/{tenant}/auth/callback", get(callback))
        .route("/t/{tenant}/auth/session", get(session))
        .route("/t/{tenant}/auth/logout", post(logout))
        .route("/t/{tenant}/auth/logged-out", get(logged_out))
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> FhirError {
    FhirError::new(status, Issue::error(code, message))
}

fn signon_error(e: SignOnError) -> FhirError {
    match e {
        SignOnError::Provider(_) => error(StatusCode::BAD_GATEWAY, "transient", e.to_string()),
        SignOnError::UnknownState => error(StatusCode::BAD_REQUEST, "invalid", e.to_string()),
        SignOnError::Refused(_) => error(StatusCode::UNAUTHORIZED, "login", e.to_string()),
        SignOnError::Config(_) => {
            tracing::error!(error = %e, "browser sign-on is misconfigured");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "browser sign-on is not configured correctly for this tenant; see the server log",
            )
        }
    }
}

fn callback_url(tenant: &PublicTenant) -> String {
    format!("{}/t/{}/auth/callback", tenant.origin, tenant.tenant)
}

fn cookie_path(tenant: &str) -> String {
    format!("/t/{tenant}/")
}

/// `; Secure` when the public base URL is https: the cookie then never travels in clear.
pub(super) fn secure(state: &AppState) -> &'static str {
    if state
        .config
        .base_url
        .as_deref()
        .is_some_and(|b| b.starts_with("https://"))
    {
        "; Secure"
    } else {
        ""
    }
}

/// The `Set-Cookie` value that starts a session in `tenant` (an empty `value` with
/// `max_age` 0 ends it). Every sign-in path (provider, local account) sets it this way.
pub(super) fn session_set_cookie(
    state: &AppState,
    tenant: &str,
    value: &str,
    max_age: u64,
) -> header::HeaderValue {
    format!(
        "{COOKIE}={value}; Path={}; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        cookie_path(tenant),
        secure(state)
    )
    .parse()
    .expect("valid cookie header")
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// Only a path inside this tenant: anything else would make sign-on an open redirect.
pub(super) fn is_safe_return_to(tenant: &str, path: &str) -> bool {
    path.starts_with(&format!("/t/{tenant}/"))
        && !path.contains("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}

fn safe_return_to(tenant: &str, asked: Option<&str>) -> String {
    match asked {
        Some(path) if is_safe_return_to(tenant, path) => path.to_string(),
        _ => format!("/t/{tenant}/auth/session"),
    }
}

async fn login(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Query(q): Query<LoginQuery>,
) -> Result<Response, FhirError> {
    let issuer = discovery::issuer_for_tenant(&state.config.auth.issuers, &tenant.tenant)
        .ok_or_else(|| FhirError::not_found("no sign-on provider is configured for this tenant"))?;
    let return_to = safe_return_to(&tenant.tenant, q.return_to.as_deref());
    let url = signon::begin(
        &state.db,
        issuer,
        &tenant.tenant,
        &callback_url(&tenant),
        &return_to,
    )
    .await
    .map_err(signon_error)?;
    Ok(Redirect::to(&url).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn audit_sign_on(
    state: &AppState,
    tenant: &str,
    subtype: &str,
    principal: Option<&Principal>,
    failure: Option<String>,
    peer: SocketAddr,
) {
    let mut record = AuditRecord::new(tenant, Kind::Authentication, subtype, "E");
    if let Some(p) = principal {
        record.issuer = Some(p.issuer.clone());
        record.subject = Some(p.subject.clone());
        record.username = p.username.clone();
    }
    record.outcome = if failure.is_some() { "4" } else { "0" };
    record.outcome_text = failure;
    record.description = format!("browser {subtype}");
    record.address = Some(peer.ip().to_string());
    state.audit.record(record, true).await;
}

async fn callback(
    State(state): State<AppState>,
    tenant: PublicTenant,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, FhirError> {
    let result = complete(&state, &tenant, &q).await;
    match result {
        Ok((cookie, return_to, principal)) => {
            audit_sign_on(
                &state,
                &tenant.tenant,
                "login",
                Some(&principal),
                None,
                peer,
            )
            .await;
            let mut response = Redirect::to(&return_to).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_set_cookie(
                    &state,
                    &tenant.tenant,
                    &cookie,
                    state.config.auth.session_hours * 3600,
                ),
            );
            Ok(response)
        }
        Err((err, principal)) => {
            audit_sign_on(
                &state,
                &tenant.tenant,
                "login",
                principal.as_ref(),
                Some(err.message()),
                peer,
            )
            .await;
            Err(err)
        }
    }
}

type Failure = (FhirError, Option<Principal>);

async fn complete(
    state: &AppState,
    tenant: &PublicTenant,
    q: &CallbackQuery,
) -> Result<(String, String, Principal), Failure> {
    if let Some(err) = &q.error {
        return Err((
            error(
                StatusCode::UNAUTHORIZED,
                "login",
                format!(
                    "the provider did not sign you in: {err} {}",
                    q.error_description.as_deref().unwrap_or("")
                ),
            ),
            None,
        ));
    }
    let (Some(code), Some(login_state)) = (&q.code, &q.state) else {
        return Err((
            error(
                StatusCode::BAD_REQUEST,
                "invalid",
                "the callback needs code and state",
            ),
            None,
        ));
    };
    let signed = signon::finish(
        &state.auth,
        &state.db,
        &state.config.auth.issuers,
        &tenant.tenant,
        code,
        login_state,
        &callback_url(tenant),
    )
    .await
    .map_err(|e| (signon_error(e), None))?;
    let principal = signed.principal;
    let refuse = |msg: &str| {
        (
            error(StatusCode::FORBIDDEN, "forbidden", msg.to_string()),
            Some(principal.clone()),
        )
    };
    if !principal.may_act_for(&tenant.tenant) {
        return Err(refuse("your account is not a member of this organization"));
    }
    if !state
        .tenants
        .exists(&tenant.tenant)
        .await
        .map_err(|e| (FhirError::from(e), None))?
    {
        return Err(refuse("this organization does not exist"));
    }
    let grant = state
        .auth
        .grant_in(&state.db, &principal, &tenant.tenant)
        .await
        .map_err(|e| (FhirError::from(e), None))?;
    if grant.is_empty() {
        return Err(refuse(
            "you hold no Tessera role in this organization; ask its administrator for one",
        ));
    }
    let (cookie, _) = sessions::create(
        &state.db,
        &tenant.tenant,
        &principal,
        Some(signed.id_token),
        state.config.auth.session_hours as i64 * 3600 * 1_000_000,
    )
    .await
    .map_err(|e| (FhirError::from(e), None))?;
    Ok((cookie, signed.return_to, principal))
}

pub(super) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| sessions::cookie_value(h, COOKIE).map(str::to_string))
}

async fn current(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
) -> Result<(String, sessions::Session), FhirError> {
    let id = session_cookie(headers)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "login", "you are not signed in"))?;
    let session = sessions::find(&state.db, tenant, &id)
        .await?
        .ok_or_else(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "login",
                "the session is not valid (expired or signed out); sign in again",
            )
        })?;
    Ok((id, session))
}

async fn session(
    State(state): State<AppState>,
    tenant: PublicTenant,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let (_, session) = current(&state, &tenant.tenant, &headers).await?;
    let grant = state
        .auth
        .grant_in(&state.db, &session.principal, &tenant.tenant)
        .await?;
    let body = json!({
        "tenant": tenant.tenant,
        "subject": session.principal.subject,
        "username": session.principal.username,
        "roles": grant.roles,
        "csrf_token": session.csrf,
    });
    Ok(FhirResponse::json(StatusCode::OK, &body)
        .header(header::CACHE_CONTROL, "no-store".to_string())
        .into_response())
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    tenant: PublicTenant,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, FhirError> {
    let (id, session) = current(&state, &tenant.tenant, &headers).await?;
    if !form
        .csrf
        .as_deref()
        .is_some_and(|c| sessions::same(c, &session.csrf))
    {
        audit_sign_on(
            &state,
            &tenant.tenant,
            "logout",
            Some(&session.principal),
            Some("the form did not carry the session's CSRF token".into()),
            peer,
        )
        .await;
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the form did not carry the session's CSRF token; reload the page and try again",
        ));
    }
    sessions::delete(&state.db, &tenant.tenant, &id).await?;
    audit_sign_on(
        &state,
        &tenant.tenant,
        "logout",
        Some(&session.principal),
        None,
        peer,
    )
    .await;
    let after = format!("{}/t/{}/auth/logged-out", tenant.origin, tenant.tenant);
    // RP-initiated logout: end the provider's session too, when it supports it.
    let target = match discovery::document(&session.principal.issuer).await {
        Ok(doc) => match doc["end_session_endpoint"].as_str() {
            Some(end) => {
                let mut url =
                    url::Url::parse(end).map_err(|e| FhirError::internal(e.to_string()))?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(hint) = &session.id_token {
                        q.append_pair("id_token_hint", hint);
                    }
                    q.append_pair("post_logout_redirect_uri", &after);
                    if let Some(client) = state
                        .auth
                        .issuer_of(&session.principal)
                        .and_then(|i| i.client_id.clone())
                    {
                        q.append_pair("client_id", &client);
                    }
                }
                url.to_string()
            }
            None => after,
        },
        Err(_) => after,
    };
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_set_cookie(&state, &tenant.tenant, "", 0),
    );
    Ok(response)
}

async fn logged_out(tenant: PublicTenant) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title></head>\
         <body><p>You are signed out.</p><p><a href=\"/t/{t}/auth/login\">Sign in again</a></p>\
         <p><a href=\"/t/{t}/admin/sign-in\">Sign in to the admin pages</a></p></body></html>",
        t = tenant.tenant
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_inside_the_tenant() {
        assert_eq!(
            safe_return_to("acme", Some("/t/acme/fhir/Patient")),
            "/t/acme/fhir/Patient"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/t/acme/",
            "/t/globex/fhir",
            "/t/acme//evil",
            "/t/acme/\\x",
        ] {
            assert_eq!(
                safe_return_to("acme", Some(bad)),
                "/t/acme/auth/session",
                "{bad}"
            );
        }
    }
}
