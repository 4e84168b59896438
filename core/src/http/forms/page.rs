//! The HTML around a form: one page template (handlebars, escaping everything it is given),
//! security headers that let no script run but the form script served from this origin,
//! and errors as pages.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use handlebars::Handlebars;
use serde_json::{json, Value};

use crate::fhir::outcome::FhirError;

fn templates() -> &'static Handlebars<'static> {
    static TEMPLATES: OnceLock<Handlebars<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut h = Handlebars::new();
        h.set_strict_mode(true);
        for (name, text) in [
            ("page", include_str!("templates/page.hbs")),
            ("list", include_str!("templates/list.hbs")),
            ("stored", include_str!("templates/stored.hbs")),
        ] {
            h.register_template_string(name, text)
                .expect("the forms templates parse");
        }
        h
    })
}

/// Renders one of the templates (`list`, `stored`) with `data`.
pub fn fragment(name: &str, data: &Value) -> String {
    templates()
        .render(name, data)
        .unwrap_or_else(|e| panic!("forms template {name} failed to render: {e}"))
}

/// What frames a page.
pub struct Frame<'a> {
    pub tenant: &'a str,
    pub title: &'a str,
    pub lang: &'a str,
    pub patient: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// What the enabled packs' rules raise for the patient.
    pub alerts: &'a [crate::rules::Raised],
}

/// A whole page: `body` is HTML already escaped by its renderer (the forms engine or a
/// template); everything else is escaped here.
pub fn page(status: StatusCode, frame: &Frame<'_>, body: &str) -> Response {
    let html = templates()
        .render(
            "page",
            &json!({
                "lang": frame.lang,
                "title": frame.title,
                "assets": assets_url(frame.tenant),
                "home": format!("/t/{}/forms{}", frame.tenant,
                    frame.patient.map(|p| format!("?patient={p}")).unwrap_or_default()),
                "patient": frame.patient,
                "notice": frame.notice,
                "alerts": frame.alerts,
                "body": body,
            }),
        )
        .expect("the page template renders");
    with_security_headers(status, html)
}

/// Where the form script and style sheet are served.
pub fn assets_url(tenant: &str) -> String {
    format!("/t/{tenant}/forms/_assets")
}

/// HTML with headers that keep it to itself: scripts and styles from this origin only (the
/// forms engine puts no inline script in a page), posts only back here, never framed, never
/// cached (pages hold patient data and CSRF tokens).
pub fn with_security_headers(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers: &mut HeaderMap = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A refusal or failure as a page, saying what to do.
pub fn error_page(tenant: &str, err: &FhirError) -> Response {
    let text = err.message();
    let heading = match err.status {
        StatusCode::UNAUTHORIZED => "Sign in first",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        s if s.is_client_error() => "This cannot be done",
        _ => "Something went wrong",
    };
    let body = fragment_text(&text);
    page(
        err.status,
        &Frame {
            tenant,
            title: heading,
            lang: "en",
            patient: None,
            notice: None,
            alerts: &[],
        },
        &body,
    )
}

fn fragment_text(text: &str) -> String {
    format!("<p>{}</p>", handlebars::html_escape(text))
}

/// Does the client prefer HTML (a browser) over JSON?
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_are_given() {
        let response = page(
            StatusCode::OK,
            &Frame {
                tenant: "acme",
                title: "<script>x</script>",
                lang: "en",
                patient: Some("p1"),
                notice: Some("a & b"),
                alerts: &[],
            },
            "<form></form>",
        );
        assert!(response
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        let body = futures_body(response);
        assert!(body.contains("&lt;script&gt;x&lt;/script&gt;"), "{body}");
        assert!(body.contains("a &amp; b"));
        assert!(body.contains("<form></form>"), "the engine's HTML is kept");
    }

    fn futures_body(response: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
    }
}
