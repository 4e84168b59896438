//! The sign-in and password pages, and their protection against login CSRF: a random token
//! in a `SameSite=Strict`, `HttpOnly` cookie scoped to `/t/{tenant}/admin/`, which each form
//! repeats in `_csrf`. Another site can neither read the cookie nor make the browser send it,
//! so it cannot sign a browser in to an account of its choosing.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::super::form::FormData;
use super::super::page::{Chrome, Problems};
use super::super::session::message_page;
use super::super::templates;
use crate::auth::sessions;
use crate::auth::users::MIN_PASSWORD;
use crate::http::signon;
use crate::http::AppState;

/// The login-CSRF cookie: set with the sign-in page, repeated by its forms.
const SIGN_IN_COOKIE: &str = "tessera_signin";

pub(super) fn sign_in_cookie(
    state: &AppState,
    tenant: &str,
    value: &str,
    max_age: u64,
) -> HeaderValue {
    format!(
        "{SIGN_IN_COOKIE}={value}; Path=/t/{tenant}/admin/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        signon::secure(state)
    )
    .parse()
    .expect("valid cookie header")
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| sessions::cookie_value(h, name).map(str::to_string))
}

/// The login-CSRF token of this browser, or a new one. A token is 43 base64url characters;
/// anything else in the cookie is replaced.
pub(super) fn sign_in_token(headers: &HeaderMap) -> String {
    cookie(headers, SIGN_IN_COOKIE)
        .filter(|t| {
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(sessions::random_token)
}

pub(super) fn sign_in_form_ok(headers: &HeaderMap, form: &FormData) -> bool {
    match (cookie(headers, SIGN_IN_COOKIE), form.get("_csrf")) {
        (Some(cookie), Some(sent)) => sessions::same(&cookie, sent),
        _ => false,
    }
}

pub(super) fn stale_form() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        Chrome::default(),
        "Sign-in form expired",
        "This form was not issued to this browser, or has expired. Open the sign-in page again and retry.",
    )
}

pub(super) struct SignInView<'a> {
    pub(super) tenant: &'a str,
    pub(super) return_to: &'a str,
    pub(super) token: &'a str,
    pub(super) username: &'a str,
    pub(super) problems: &'a Problems,
    pub(super) notice: Option<String>,
}

impl<'a> SignInView<'a> {
    pub(super) fn new(
        tenant: &'a str,
        return_to: &'a str,
        token: &'a str,
        username: &'a str,
        problems: &'a Problems,
    ) -> SignInView<'a> {
        SignInView {
            tenant,
            return_to,
            token,
            username,
            problems,
            notice: None,
        }
    }
}

pub(super) fn sign_in_page(state: &AppState, view: SignInView<'_>, status: StatusCode) -> Response {
    let tenant = view.tenant;
    let provider = crate::auth::discovery::issuer_for_tenant(&state.config.auth.issuers, tenant)
        .filter(|issuer| issuer.client_id.is_some())
        .map(|_| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", view.return_to)
                .finish();
            format!("/t/{tenant}/auth/login?{query}")
        });
    let chrome = Chrome {
        title: "Sign in".into(),
        tenant: Some(tenant.to_string()),
        notice: view.notice,
        errors: view.problems.links(),
        ..Chrome::default()
    };
    let mut response = templates::page(
        status,
        "sign_in",
        &json!({
            "chrome": chrome,
            "provider": provider,
            "local": state.auth.local.is_some(),
            "action": format!("/t/{tenant}/admin/sign-in"),
            "return_to": view.return_to,
            "csrf": view.token,
            "username": view.username,
            "username_error": view.problems.about("username"),
            "password_error": view.problems.about("password"),
        }),
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        sign_in_cookie(state, tenant, view.token, 3600),
    );
    response
}

pub(super) fn password_page(
    state: &AppState,
    view: SignInView<'_>,
    status: StatusCode,
) -> Response {
    let tenant = view.tenant;
    let chrome = Chrome {
        title: "Replace your one-time password".into(),
        tenant: Some(tenant.to_string()),
        errors: view.problems.links(),
        ..Chrome::default()
    };
    let mut response = templates::page(
        status,
        "password",
        &json!({
            "chrome": chrome,
            "action": format!("/t/{tenant}/admin/password"),
            "return_to": view.return_to,
            "csrf": view.token,
            "username": view.username,
            "min": MIN_PASSWORD,
            "password_error": view.problems.about("password"),
            "new_error": view.problems.about("new_password"),
            "confirm_error": view.problems.about("confirm_password"),
        }),
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        sign_in_cookie(state, tenant, view.token, 3600),
    );
    response
}
