//! A browser session for a local user whose password was just checked: the identity comes
//! from a local-issuer token verified like any other, and a new session id is issued at every
//! sign-in.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};

use super::forms::sign_in_cookie;
use crate::auth::local::TokenRequest;
use crate::auth::sessions;
use crate::auth::users::LocalUser;
use crate::http::local_auth::audit_local;
use crate::http::signon;
use crate::http::AppState;

/// Starts a browser session for a local user whose password was just checked.
pub(super) async fn start_session(
    state: &AppState,
    tenant: &str,
    user: &LocalUser,
    headers: &HeaderMap,
    peer: SocketAddr,
    target: &str,
) -> Result<Response, String> {
    let member = user.tenants.iter().any(|t| t == "*" || t == tenant);
    if !member || !state.tenants.exists(tenant).await.unwrap_or(false) {
        // One answer for "not yours" and "does not exist".
        return Err(format!("This account may not sign in to {tenant}."));
    }
    let issuer = state
        .auth
        .local
        .as_ref()
        .ok_or("Local accounts are switched off on this server.")?;
    let token = issuer
        .issue(&TokenRequest {
            tenant: tenant.to_string(),
            subject: user.username.clone(),
            username: Some(user.username.clone()),
            roles: user.roles.clone(),
            patient: user.patient.clone(),
            lifetime_seconds: 60,
        })
        .map_err(|e| {
            tracing::error!(error = %e, "cannot sign a local token");
            "The server cannot sign you in right now; see its log.".to_string()
        })?;
    // The session's identity is what verification of that token yields, as for any token.
    let principal = state.auth.authenticate(&token).await.map_err(|e| {
        tracing::error!(error = %e, "a local token did not verify");
        "The server cannot sign you in right now; see its log.".to_string()
    })?;
    let grant = state
        .auth
        .grant_in(&state.db, &principal, tenant)
        .await
        .map_err(|_| "The server cannot sign you in right now; try again.".to_string())?;
    if grant.is_empty() {
        return Err(format!(
            "This account holds no Tessera role in {tenant}; ask its administrator for one."
        ));
    }
    // A new session id at every sign-in; the one the browser had (if any) ends.
    if let Some(old) = signon::session_cookie(headers) {
        let _ = sessions::delete(&state.db, tenant, &old).await;
    }
    let (cookie, _) = sessions::create(
        &state.db,
        tenant,
        &principal,
        None,
        state.config.auth.session_hours as i64 * 3600 * 1_000_000,
    )
    .await
    .map_err(|_| "The server cannot sign you in right now; try again.".to_string())?;
    audit_local(
        state,
        tenant,
        &user.username,
        "login",
        None,
        peer,
        &format!("admin pages: local sign-in (POST /t/{tenant}/admin/sign-in)"),
    )
    .await;
    let mut response = Redirect::to(target).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        signon::session_set_cookie(
            state,
            tenant,
            &cookie,
            state.config.auth.session_hours * 3600,
        ),
    );
    headers.append(header::SET_COOKIE, sign_in_cookie(state, tenant, "", 0));
    Ok(response)
}
