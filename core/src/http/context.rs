//! Who is calling and for which tenant: the single checkpoint every tenant route passes.
//!
//! Today it resolves the tenant from the URL and checks it exists. Sign-on (issue #4) adds
//! the verified token here: the tenant and roles will come from the token and must agree
//! with the URL, and no handler will need to change.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use std::collections::HashMap;

use super::AppState;
use crate::fhir::outcome::{FhirError, Issue};

/// The tenant a request acts for, and the FHIR base URL it sees.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub tenant: String,
    /// e.g. `http://127.0.0.1:8080/t/acme/fhir`
    pub fhir_base: String,
}

impl FromRequestParts<AppState> for TenantContext {
    type Rejection = FhirError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| FhirError::not_found("no tenant in the URL"))?;
        let tenant = params
            .get("tenant")
            .cloned()
            .ok_or_else(|| FhirError::not_found("no tenant in the URL"))?;
        // Unknown and forbidden tenants answer alike, so tenant names cannot be probed.
        if !state
            .tenants
            .exists(&tenant)
            .await
            .map_err(FhirError::from)?
        {
            return Err(FhirError::new(
                StatusCode::NOT_FOUND,
                Issue::error("not-found", format!("unknown tenant {tenant:?}")),
            ));
        }
        let origin = match &state.config.base_url {
            Some(base) => base.clone(),
            None => {
                let host = parts
                    .headers
                    .get(axum::http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}")
            }
        };
        Ok(TenantContext {
            fhir_base: format!("{origin}/t/{tenant}/fhir"),
            tenant,
        })
    }
}
