//! The HTTP server: the router reads as the table of contents of the API.

mod admin_roles;
mod context;
mod fhir_audit;
mod fhir_history;
mod fhir_routes;
mod fhir_search;
mod local_auth;
pub mod negotiate;
mod ops;
mod signon;
mod smart;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::trace::TraceLayer;

use crate::audit::AuditLog;
use crate::auth::Auth;
use crate::config::Config;
use crate::db::Database;
use crate::fhir::engine::FhirEngine;
use crate::fhir::group_commit::CreateQueue;
use crate::tenants::Tenants;

pub use context::{PublicTenant, TenantContext};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Database,
    pub tenants: Arc<Tenants>,
    pub engine: FhirEngine,
    /// Plain creates go through group commit.
    pub creates: CreateQueue,
    pub metrics: PrometheusHandle,
    /// Token verification and role mapping.
    pub auth: Arc<Auth>,
    pub audit: AuditLog,
}

pub fn router(state: AppState) -> Router {
    // AuditEvent's own routes come first: static segments win over `{type}`.
    let fhir = fhir_audit::routes()
        .merge(smart::routes())
        .merge(admin_roles::routes())
        .merge(fhir_routes::routes())
        .layer(axum::middleware::from_fn(negotiate::require_json))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::middleware::audit_requests,
        ));
    Router::new()
        .merge(ops::routes())
        .merge(signon::routes())
        .merge(local_auth::routes())
        .merge(fhir)
        .fallback(ops::not_found)
        .method_not_allowed_fallback(fhir_routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn(ops::record_metrics))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
