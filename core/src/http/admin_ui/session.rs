//! Who may use the admin pages: a signed-in browser session (never a bearer token, never a
//! form field) of an `org-admin` of the URL's tenant (feature `tenant`, action `admin`).
//! The session check itself is `TenantContext`'s, the same one every tenant route passes,
//! including its CSRF check on state-changing requests. Failures become pages: no session →
//! the sign-in page, refused → a 403 page that says why.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::page::Chrome;
use super::templates;
use crate::auth::rbac::{Action, Who};
use crate::http::{AppState, TenantContext};
use crate::packs::overview::PackOverview;

/// A signed-in organization admin.
#[derive(Clone, Debug)]
pub struct Admin {
    pub tenant: String,
    /// How the lifecycle records name this admin (as the JSON API does).
    pub actor: String,
    /// The session's CSRF token, put into every form.
    pub csrf: String,
}

impl Admin {
    /// The frame of a page for this admin.
    pub fn chrome(&self, title: impl Into<String>) -> Chrome {
        Chrome {
            title: title.into(),
            tenant: Some(self.tenant.clone()),
            user: Some(self.actor.clone()),
            csrf: Some(self.csrf.clone()),
            ..Chrome::default()
        }
    }

    /// `/t/{tenant}/admin{rest}`
    pub fn url(&self, rest: &str) -> String {
        format!("/t/{}/admin{rest}", self.tenant)
    }

    /// A pack as this admin's tenant sees it, or the page saying there is no such pack.
    // The error is the page to answer with, made once per request: boxing it would buy nothing.
    #[allow(clippy::result_large_err)]
    pub async fn pack(&self, state: &AppState, pack: &str) -> Result<PackOverview, Response> {
        state
            .packs
            .overview_of(&self.tenant, pack)
            .await
            .map_err(|e| message_page(e.status, self.chrome("Pack"), "No such pack", &e.message()))
    }
}

/// The tenant of a `/t/{tenant}/admin/...` path, when it is a valid slug.
pub fn path_tenant(path: &str) -> Option<String> {
    let tenant = path.strip_prefix("/t/")?.split('/').next()?;
    crate::tenants::validate_slug(tenant)
        .is_ok()
        .then(|| tenant.to_string())
}

/// A page that explains a refusal or failure; `chrome` says who is signed in, if anyone.
pub fn message_page(status: StatusCode, chrome: Chrome, heading: &str, text: &str) -> Response {
    explain(status, chrome, heading, text, true)
}

/// `back`: offer the way back to the packs (pointless for someone who may not see them).
fn explain(status: StatusCode, chrome: Chrome, heading: &str, text: &str, back: bool) -> Response {
    let title = chrome.title.clone();
    templates::page(
        status,
        "message",
        &json!({
            "chrome": chrome.titled(if title.is_empty() { heading.to_string() } else { title }),
            "heading": heading,
            "text": text,
            "back": back,
        }),
    )
}

/// Sends the browser to the sign-in page, coming back to `return_to` afterwards.
pub fn to_sign_in(tenant: &str, return_to: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    Redirect::to(&format!("/t/{tenant}/admin/sign-in?{query}")).into_response()
}

pub fn not_found() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        Chrome::default(),
        "Page not found",
        "There is no admin page at this address.",
    )
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, Response> {
        let Some(tenant) = path_tenant(parts.uri.path()) else {
            return Err(not_found());
        };
        if parts.headers.contains_key(header::AUTHORIZATION) {
            // Pages act for a person at a browser; scripts use /api/admin/... with a token.
            return Err(message_page(
                StatusCode::UNAUTHORIZED,
                Chrome::default(),
                "Sign in with your browser",
                "The admin pages use a browser session, not bearer tokens. Scripts use the JSON API at /api/admin/.",
            ));
        }
        // Where to come back to after signing in: this page, or the packs list for a form
        // whose post cannot be repeated by a redirect.
        let here = match parts.method {
            Method::GET | Method::HEAD => parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            _ => format!("/t/{tenant}/admin/packs"),
        };
        if crate::http::signon::session_cookie(&parts.headers).is_none() {
            return Err(to_sign_in(&tenant, &here));
        }
        let ctx = match TenantContext::from_request_parts(parts, state).await {
            Ok(ctx) => ctx,
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                // Expired or signed out elsewhere.
                return Err(to_sign_in(&tenant, &here));
            }
            Err(e) if e.status == StatusCode::NOT_FOUND => return Err(not_found()),
            Err(e) => {
                return Err(message_page(
                    e.status,
                    Chrome {
                        tenant: Some(tenant),
                        ..Chrome::default()
                    },
                    "You cannot do this",
                    &e.message(),
                ))
            }
        };
        let csrf = ctx.csrf.clone().unwrap_or_default();
        let actor = actor_name(&ctx.grant.who);
        if !ctx.grant.allows_feature(Action::Admin, "tenant") {
            let chrome = Chrome {
                tenant: Some(tenant.clone()),
                user: Some(actor.clone()),
                csrf: Some(csrf),
                ..Chrome::default()
            };
            return Err(explain(
                StatusCode::FORBIDDEN,
                chrome,
                "Only organization admins can use these pages",
                &format!(
                    "You are signed in as {actor}, who does not hold the org-admin role in {tenant}. Ask an administrator of {tenant} for it, or sign out and sign in as an administrator."
                ),
                false,
            ));
        }
        Ok(Admin {
            tenant,
            actor,
            csrf,
        })
    }
}

/// How an admin is named in the lifecycle's records; the JSON API names them the same way.
pub fn actor_name(who: &Who) -> String {
    crate::http::admin_packs::actor_name(who)
}

/// The `{pack}` of a page's path, checked to be a pack id (so it is safe in any URL or
/// header the page builds); anything else is a 404 page.
pub struct PackPath(pub String);

impl FromRequestParts<AppState> for PackPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let axum::extract::Path((_tenant, pack)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| not_found())?;
        if tessera_plugins::manifest::is_pack_id(&pack) {
            Ok(PackPath(pack))
        } else {
            Err(not_found())
        }
    }
}

/// `{pack}` and `{location}` of a Location override's path, both checked.
pub struct LocationPath {
    pub pack: String,
    pub location: String,
}

impl FromRequestParts<AppState> for LocationPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let axum::extract::Path((_tenant, pack, location)) =
            axum::extract::Path::<(String, String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| not_found())?;
        if tessera_plugins::manifest::is_pack_id(&pack)
            && crate::packs::lifecycle::check_location_id(&location).is_ok()
        {
            Ok(LocationPath { pack, location })
        } else {
            Err(not_found())
        }
    }
}

/// The `{tenant}` of a page's path, checked to be a tenant slug.
pub struct PathTenant(pub String);

impl FromRequestParts<AppState> for PathTenant {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        path_tenant(parts.uri.path())
            .map(PathTenant)
            .ok_or_else(not_found)
    }
}
