//! The HTTP server: the router reads as the table of contents of the API.

mod admin_events;
mod admin_packs;
mod admin_roles;
mod admin_ui;
mod context;
mod fhir_audit;
mod fhir_history;
mod fhir_routes;
mod fhir_search;
mod forms;
mod local_auth;
pub mod negotiate;
mod ops;
mod pack_routes;
mod rules;
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

pub use context::{PackCall, PublicTenant, TenantContext};

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
    /// Installed packs, tenants' settings and the pack runtime.
    pub packs: Arc<crate::packs::Packs>,
}

pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The router with `extra` routes behind the same layers as packs' routes (audit, metrics,
/// tracing, body limit): the benchmark's native twin of a pack route, so both are measured
/// through the same stack.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
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
    // Packs: audited like everything else, but their bodies are not FHIR (archives, and
    // whatever a pack's routes take).
    let packs = pack_routes::routes()
        .merge(admin_packs::routes())
        .merge(admin_events::routes())
        .merge(forms::routes())
        .merge(rules::routes())
        .merge(extra)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::middleware::audit_requests,
        ));
    let packs_state = state.packs.clone();
    let app = Router::new()
        .merge(ops::routes())
        .merge(signon::routes())
        .merge(local_auth::routes())
        .merge(admin_ui::routes(&state))
        .merge(fhir)
        .merge(packs)
        .fallback(ops::not_found)
        .method_not_allowed_fallback(fhir_routes::method_not_allowed)
        // HTML forms send the session's CSRF token as a `_csrf` field, not a header.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::lift_form_csrf,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn(ops::record_metrics))
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    // Packs' FHIR requests go through this same router (`packs::services`).
    packs_state.set_router(app.clone());
    app
}
