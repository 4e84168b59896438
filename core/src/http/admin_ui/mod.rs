//! The admin pages for organization admins: server-rendered HTML (handlebars templates in
//! `templates/`, compiled in), working without JavaScript, over the same pack lifecycle as
//! the JSON API (`/api/admin/...`, `http/admin_packs.rs`).
//!
//! URL layout (the browser session's cookie is scoped to `/t/{tenant}/`, so the pages live
//! under it):
//!
//! | path | what |
//! |---|---|
//! | `/admin` | picks the organization, then goes to its pages |
//! | `/admin/assets/admin.css`, `favicon.svg` | the stylesheet and icon (no inline styles or scripts anywhere) |
//! | `/t/{t}/admin/sign-in`, `/t/{t}/admin/password` | sign in (provider or local account), replace a one-time password |
//! | `/t/{t}/admin` | → `/t/{t}/admin/packs` |
//! | `/t/{t}/admin/packs` | the organization's packs |
//! | `/t/{t}/admin/packs/{p}` | one pack; its actions post to `.../disable`, `pin`, `rollback`, `upgrade`, `remove` |
//! | `/t/{t}/admin/packs/{p}/configure` | enable and configure (consent, generated form, secrets) |
//! | `/t/{t}/admin/packs/{p}/upgrade?version=` | upgrade to the latest release or a chosen version |
//! | `/t/{t}/admin/packs/{p}/remove` | remove the organization's settings, after confirming |
//! | `/t/{t}/admin/packs/{p}/locations/{l}` | a Location's override; `.../delete` deletes it |
//!
//! Modules: `session` (who may use the pages), `sign_in` (signing in), `picker`, `packs_list`,
//! `pack_page`, `configure` (with `schema_form` and `permissions`), `actions`, `locations`;
//! `page`, `form` and `templates` are what the pages share.
//!
//! Every response carries a strict Content-Security-Policy, `X-Frame-Options: DENY` and
//! `Cache-Control: no-store`. Every state-changing form carries the session's CSRF token in
//! `_csrf` (checked by `TenantContext`), and answers with a redirect (POST-redirect-GET).
//! Each request is audited as the admin API request it stands for.

mod actions;
mod configure;
mod form;
mod locations;
mod pack_page;
mod packs_list;
mod page;
mod permissions;
mod picker;
mod schema_form;
mod session;
mod sign_in;
mod templates;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::AppState;
use crate::audit::AuditSlot;

pub fn routes(state: &AppState) -> Router<AppState> {
    templates::register();
    let pages = Router::new()
        .route("/t/{tenant}/admin", get(home))
        .route("/t/{tenant}/admin/", get(home))
        .route("/t/{tenant}/admin/packs", get(packs_list::page))
        .route("/t/{tenant}/admin/packs/{pack}", get(pack_page::page))
        .route(
            "/t/{tenant}/admin/packs/{pack}/configure",
            get(configure::form).post(configure::save),
        )
        .route(
            "/t/{tenant}/admin/packs/{pack}/upgrade",
            get(actions::upgrade_form).post(actions::upgrade),
        )
        .route(
            "/t/{tenant}/admin/packs/{pack}/rollback",
            post(actions::rollback),
        )
        .route("/t/{tenant}/admin/packs/{pack}/pin", post(actions::pin))
        .route(
            "/t/{tenant}/admin/packs/{pack}/disable",
            post(actions::disable),
        )
        .route(
            "/t/{tenant}/admin/packs/{pack}/remove",
            get(actions::remove_form).post(actions::remove),
        )
        .route(
            "/t/{tenant}/admin/packs/{pack}/locations",
            get(locations::pick),
        )
        .route(
            "/t/{tenant}/admin/packs/{pack}/locations/{location}",
            get(locations::form).post(locations::save),
        )
        .route(
            "/t/{tenant}/admin/packs/{pack}/locations/{location}/delete",
            post(locations::delete),
        )
        .layer(axum::middleware::from_fn(same_as_api))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::middleware::audit_requests,
        ));
    let public = Router::new()
        .route("/admin", get(picker::page))
        .route("/admin/", get(picker::page))
        .route("/admin/assets/admin.css", get(stylesheet))
        .route("/admin/assets/favicon.svg", get(favicon))
        .route(
            "/t/{tenant}/admin/sign-in",
            get(sign_in::page).post(sign_in::local),
        )
        .route("/t/{tenant}/admin/password", post(sign_in::password))
        // Any other address under the pages is a page too, not the API's JSON 404.
        .route("/t/{tenant}/admin/{*rest}", get(not_found))
        .route("/admin/{*rest}", get(not_found));
    pages
        .merge(public)
        .layer(axum::middleware::map_response_with_state(
            content_security_policy(state),
            security_headers,
        ))
}

/// `default-src 'self'` and nothing inline. Forms may post only here, and (through sign-out's
/// redirect) to the configured providers, whose logout ends their session too.
fn content_security_policy(state: &AppState) -> HeaderValue {
    let mut form_action = vec!["'self'".to_string()];
    for issuer in &state.config.auth.issuers {
        if let Ok(url) = url::Url::parse(&issuer.issuer) {
            let origin = url.origin().ascii_serialization();
            if !form_action.contains(&origin) {
                form_action.push(origin);
            }
        }
    }
    HeaderValue::from_str(&format!(
        "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action {}",
        form_action.join(" ")
    ))
    .expect("origins are header-safe")
}

async fn security_headers(State(csp): State<HeaderValue>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn not_found() -> Response {
    session::not_found()
}

async fn home(session::PathTenant(tenant): session::PathTenant) -> Response {
    Redirect::to(&format!("/t/{tenant}/admin/packs")).into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/admin.css"))
}

async fn favicon() -> Response {
    asset("image/svg+xml", include_str!("assets/favicon.svg"))
}

/// Audits a page's request as the admin API request it stands for: the same subtype,
/// action and entity, so the trail reads the same whichever way an admin acted.
async fn same_as_api(request: Request, next: Next) -> Response {
    if let (Some(slot), Some((method, path))) = (
        request.extensions().get::<AuditSlot>(),
        api_equivalent(request.method(), request.uri().path()),
    ) {
        slot.set_same_as(method, path);
    }
    next.run(request).await
}

/// `/t/{t}/admin/packs/...` → the `/api/admin/tenants/{t}/packs/...` request it stands for.
fn api_equivalent(method: &Method, path: &str) -> Option<(Method, String)> {
    let (tenant, rest) = path.strip_prefix("/t/")?.split_once("/admin/")?;
    let api = format!("/api/admin/tenants/{tenant}/packs");
    let segments: Vec<&str> = rest.split('/').collect();
    let read = matches!(*method, Method::GET | Method::HEAD);
    Some(match (segments.as_slice(), read) {
        (["packs"], _) => (Method::GET, api),
        ([_, pack, ..], true) => (Method::GET, format!("{api}/{pack}")),
        ([_, pack, "configure"], false) => (Method::PUT, format!("{api}/{pack}")),
        ([_, pack, "remove"], false) => (Method::DELETE, format!("{api}/{pack}")),
        ([_, pack, action @ ("disable" | "upgrade" | "rollback" | "pin")], false) => {
            (Method::POST, format!("{api}/{pack}/{action}"))
        }
        ([_, pack, "locations", location], false) => {
            (Method::PUT, format!("{api}/{pack}/locations/{location}"))
        }
        ([_, pack, "locations", location, "delete"], false) => {
            (Method::DELETE, format!("{api}/{pack}/locations/{location}"))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_audited_as_their_api_requests() {
        let t = |m: Method, p: &str| api_equivalent(&m, p).map(|(m, p)| format!("{m} {p}"));
        let api = "/api/admin/tenants/acme/packs";
        assert_eq!(
            t(Method::GET, "/t/acme/admin/packs"),
            Some(format!("GET {api}"))
        );
        assert_eq!(
            t(Method::GET, "/t/acme/admin/packs/greeter/upgrade"),
            Some(format!("GET {api}/greeter"))
        );
        assert_eq!(
            t(Method::POST, "/t/acme/admin/packs/greeter/configure"),
            Some(format!("PUT {api}/greeter"))
        );
        assert_eq!(
            t(Method::POST, "/t/acme/admin/packs/greeter/remove"),
            Some(format!("DELETE {api}/greeter"))
        );
        assert_eq!(
            t(Method::POST, "/t/acme/admin/packs/greeter/pin"),
            Some(format!("POST {api}/greeter/pin"))
        );
        assert_eq!(
            t(Method::POST, "/t/acme/admin/packs/greeter/locations/ward-1"),
            Some(format!("PUT {api}/greeter/locations/ward-1"))
        );
        assert_eq!(
            t(
                Method::POST,
                "/t/acme/admin/packs/greeter/locations/ward-1/delete"
            ),
            Some(format!("DELETE {api}/greeter/locations/ward-1"))
        );
        assert_eq!(
            t(Method::POST, "/t/acme/admin/packs/greeter/frobnicate"),
            None
        );
    }
}
