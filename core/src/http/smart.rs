//! SMART App Launch discovery: `GET /t/{tenant}/fhir/.well-known/smart-configuration`
//! points a SMART app at the OpenID provider that signs users in to this tenant. Public, as
//! the SMART specification requires; the provider's own discovery document is cached, so
//! anonymous callers cannot make the server fetch it on every request.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::context::PublicTenant;
use super::fhir_routes::Reply;
use super::negotiate::FhirResponse;
use super::AppState;
use crate::auth::discovery;
use crate::fhir::outcome::FhirError;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/t/{tenant}/fhir/.well-known/smart-configuration",
        get(smart_configuration),
    )
}

async fn discovery(issuer: &str) -> Result<Value, FhirError> {
    discovery::document(issuer).await.map_err(|e| {
        tracing::warn!(issuer, error = %e, "cannot read the provider's discovery document");
        FhirError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::fhir::outcome::Issue::error(
                "transient",
                "the sign-on provider cannot be reached right now; try again",
            ),
        )
    })
}

async fn smart_configuration(State(state): State<AppState>, tenant: PublicTenant) -> Reply {
    let issuer = discovery::issuer_for_tenant(&state.config.auth.issuers, &tenant.tenant)
        .ok_or_else(|| FhirError::not_found("no OpenID provider is configured for this tenant"))?;
    let doc = discovery(&issuer.issuer).await?;
    let mut smart = json!({
        "issuer": issuer.issuer,
        "jwks_uri": doc["jwks_uri"],
        "authorization_endpoint": doc["authorization_endpoint"],
        "token_endpoint": doc["token_endpoint"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "fhirUser", "profile", "offline_access"],
        "capabilities": [
            "launch-standalone", "client-public", "client-confidential-symmetric",
            "sso-openid-connect", "permission-patient", "permission-user"
        ],
    });
    for key in [
        "userinfo_endpoint",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "token_endpoint_auth_methods_supported",
    ] {
        if !doc[key].is_null() {
            smart[key] = doc[key].clone();
        }
    }
    Ok(FhirResponse::json(StatusCode::OK, &smart))
}
