//! Who is calling and for which tenant: the single checkpoint every tenant route passes.
//!
//! The identity comes from a verified bearer token only (design.md invariant 2). The URL
//! names the tenant the caller wants; the token must be good for it, or the answer is 403 —
//! the same 403 whether or not that tenant exists, so tenants cannot be probed. Then the
//! caller's roles in that tenant become the [`Grant`] every interaction checks.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::AppState;
use crate::audit::AuditSlot;
use crate::auth::rbac::Grant;
use crate::fhir::outcome::{FhirError, Issue};

/// The tenant a request acts for, who acts, and the FHIR base URL it sees.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub tenant: String,
    /// e.g. `http://127.0.0.1:8080/t/acme/fhir`
    pub fhir_base: String,
    /// What the caller may do here; every transaction carries it.
    pub grant: Arc<Grant>,
    /// The session's CSRF token, when the caller signed in with a browser session: pages
    /// put it into their forms.
    pub csrf: Option<String>,
}

/// The `_csrf` field of a url-encoded form post, read from the body by [`lift_form_csrf`]
/// so that the session check accepts it like the `X-CSRF-Token` header (HTML forms cannot
/// send headers). A request extension: only the server can set it.
#[derive(Clone, Debug)]
pub struct FormCsrf(pub String);

/// A FHIR request a pack makes for the user it runs for. Only the server creates it (a
/// client cannot set request extensions); it carries the user's grant already cut down to
/// the pack's (`packs::services`), so the request meets the same checks as any other.
#[derive(Debug, Clone)]
pub struct PackCall {
    pub grant: Arc<Grant>,
    pub pack: String,
    pub fhir_base: String,
}

/// The tenant named by the URL, unverified: for public endpoints (`metadata`, SMART
/// discovery) that reveal nothing about the tenant.
#[derive(Debug, Clone)]
pub struct PublicTenant {
    pub tenant: String,
    pub origin: String,
}

fn url_tenant(parts: &Parts) -> Option<String> {
    // `/t/{tenant}/...` or `/api/admin/tenants/{tenant}/...`: read from the path itself so
    // that every route shape works.
    let path = parts.uri.path();
    let rest = path
        .strip_prefix("/t/")
        .or_else(|| path.strip_prefix("/api/admin/tenants/"))?;
    rest.split('/')
        .next()
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

pub fn origin(state: &AppState, parts: &Parts) -> String {
    match &state.config.base_url {
        Some(base) => base.clone(),
        None => {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

fn unauthorized(message: impl Into<String>) -> FhirError {
    FhirError::new(StatusCode::UNAUTHORIZED, Issue::error("login", message))
}

fn forbidden(message: impl Into<String>) -> FhirError {
    FhirError::new(StatusCode::FORBIDDEN, Issue::error("forbidden", message))
}

/// The bearer token of a request, if it sent one.
pub fn bearer_token(parts: &Parts) -> Result<Option<&str>, FhirError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not readable text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(unauthorized(
            "the Authorization header must be `Bearer <access token>`",
        )),
    }
}

impl FromRequestParts<AppState> for PublicTenant {
    type Rejection = FhirError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tenant = url_tenant(parts)
            .filter(|t| crate::tenants::validate_slug(t).is_ok())
            .ok_or_else(|| FhirError::not_found("no tenant in the URL"))?;
        Ok(PublicTenant {
            tenant,
            origin: origin(state, parts),
        })
    }
}

impl FromRequestParts<AppState> for TenantContext {
    type Rejection = FhirError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tenant =
            url_tenant(parts).ok_or_else(|| FhirError::not_found("no tenant in the URL"))?;
        let slot = parts.extensions.get::<AuditSlot>().cloned();
        if let Some(slot) = &slot {
            slot.set_tenant(&tenant);
        }
        if let Some(call) = parts.extensions.get::<PackCall>() {
            if let Some(slot) = &slot {
                slot.set_who(&call.grant.who);
                slot.set_roles(&call.grant.roles);
                slot.set_via_pack(&call.pack);
            }
            if call.grant.tenant != tenant {
                return Err(forbidden("a pack acts only in its own tenant"));
            }
            return Ok(TenantContext {
                tenant,
                fhir_base: call.fhir_base.clone(),
                grant: call.grant.clone(),
                csrf: None,
            });
        }
        let result = authorize(parts, state, &tenant, slot.as_ref()).await;
        if let (Err(err), Some(slot)) = (&result, &slot) {
            slot.set_failure(err.message());
        }
        result
    }
}

/// A browser's session (the cookie of `http/signon.rs`) and its CSRF token. A request that
/// changes something must echo that token in `X-CSRF-Token` or in a url-encoded form's
/// `_csrf` field ([`FormCsrf`]): a cookie alone is what a hostile page can make a browser
/// send.
async fn session_principal(
    parts: &Parts,
    state: &AppState,
    tenant: &str,
) -> Result<(crate::auth::principal::Principal, String), FhirError> {
    let id = super::signon::session_cookie(&parts.headers).ok_or_else(|| {
        unauthorized(
            "this endpoint needs a bearer token (Authorization: Bearer <access token>) or a signed-in session",
        )
    })?;
    if crate::tenants::validate_slug(tenant).is_err() {
        return Err(unauthorized("the session is not valid here"));
    }
    let session = crate::auth::sessions::find(&state.db, tenant, &id)
        .await
        .map_err(FhirError::from)?
        .ok_or_else(|| {
            unauthorized("the session is not valid (expired or signed out); sign in again")
        })?;
    let safe = matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if !safe {
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.extensions.get::<FormCsrf>().map(|f| f.0.as_str()));
        if !sent.is_some_and(|t| crate::auth::sessions::same(t, &session.csrf)) {
            return Err(forbidden(
                "a request made with a session cookie must send the session's CSRF token in X-CSRF-Token (or a form's _csrf field)",
            ));
        }
    }
    Ok((session.principal, session.csrf))
}

fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Lifts a form's `_csrf` field into [`FormCsrf`] for state-changing url-encoded requests
/// that carry the session cookie but no `X-CSRF-Token`. The body is read (within
/// `max_body_bytes`) and passed on unchanged; every other request passes untouched.
pub async fn lift_form_csrf(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let wanted = !matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    ) && !parts.headers.contains_key("x-csrf-token")
        && is_form(&parts.headers)
        && super::signon::session_cookie(&parts.headers).is_some();
    if !wanted {
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let bytes = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return FhirError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Issue::error(
                    "too-long",
                    format!(
                        "the form could not be read, or is larger than {} bytes",
                        state.config.max_body_bytes
                    ),
                ),
            )
            .into_response()
        }
    };
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "_csrf")
        .map(|(_, value)| FormCsrf(value.into_owned()));
    let mut request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    if let Some(token) = token {
        request.extensions_mut().insert(token);
    }
    next.run(request).await
}

async fn authorize(
    parts: &Parts,
    state: &AppState,
    tenant: &str,
    slot: Option<&AuditSlot>,
) -> Result<TenantContext, FhirError> {
    let (principal, csrf) = match bearer_token(parts)? {
        Some(token) => (
            state
                .auth
                .authenticate(token)
                .await
                .map_err(|e| unauthorized(e.to_string()))?,
            None,
        ),
        None => {
            let (principal, csrf) = session_principal(parts, state, tenant).await?;
            (principal, Some(csrf))
        }
    };
    if let Some(slot) = slot {
        slot.set_principal(&principal);
    }
    // The token decides the tenant; the URL may only name one the token is good for.
    if !principal.may_act_for(tenant) {
        return Err(forbidden("this token is not valid for this tenant"));
    }
    if !state
        .tenants
        .exists(tenant)
        .await
        .map_err(FhirError::from)?
    {
        return Err(FhirError::new(
            StatusCode::NOT_FOUND,
            Issue::error("not-found", format!("unknown tenant {tenant:?}")),
        ));
    }
    let grant = state
        .auth
        .grant_in(&state.db, &principal, tenant)
        .await
        .map_err(FhirError::from)?;
    if let Some(slot) = slot {
        slot.set_roles(&grant.roles);
    }
    if grant.is_empty() {
        return Err(forbidden(
            "you hold no Tessera role in this tenant; ask its administrator for one",
        ));
    }
    Ok(TenantContext {
        fhir_base: format!("{}/t/{tenant}/fhir", origin(state, parts)),
        tenant: tenant.to_string(),
        grant: Arc::new(grant),
        csrf,
    })
}
