//! The pages' handlebars templates: compiled into the binary (`include_str!`), registered
//! once per process, rendered in strict mode so that a misspelt variable is an error rather
//! than an empty spot. Every value goes through handlebars' HTML escaping: templates never
//! use the unescaped `{{{…}}}` form (a unit test checks).

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use handlebars::Handlebars;
use serde::Serialize;

/// (name, source) of every template; partials are the ones whose name starts with `_`.
const TEMPLATES: &[(&str, &str)] = &[
    ("_head", include_str!("templates/_head.hbs")),
    ("_foot", include_str!("templates/_foot.hbs")),
    ("_field", include_str!("templates/_field.hbs")),
    ("_permissions", include_str!("templates/_permissions.hbs")),
    ("_consent", include_str!("templates/_consent.hbs")),
    ("picker", include_str!("templates/picker.hbs")),
    ("sign_in", include_str!("templates/sign_in.hbs")),
    ("password", include_str!("templates/password.hbs")),
    ("message", include_str!("templates/message.hbs")),
    ("packs", include_str!("templates/packs.hbs")),
    ("pack", include_str!("templates/pack.hbs")),
    ("configure", include_str!("templates/configure.hbs")),
    ("upgrade", include_str!("templates/upgrade.hbs")),
    ("remove", include_str!("templates/remove.hbs")),
    ("location", include_str!("templates/location.hbs")),
];

static REGISTRY: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    for (name, source) in TEMPLATES {
        let result = match name.strip_prefix('_') {
            Some(partial) => registry.register_partial(partial, *source),
            None => registry.register_template_string(name, *source),
        };
        // The templates are part of the binary: a broken one is a build mistake.
        if let Err(e) = result {
            panic!("admin page template {name} does not compile: {e}");
        }
    }
    registry
});

/// Compiles every template now, so a broken one stops the server at start, not at the
/// first visit.
pub fn register() {
    LazyLock::force(&REGISTRY);
}

/// A page: `template` rendered with `data`, sent with `status`.
pub fn page(status: StatusCode, template: &str, data: &impl Serialize) -> Response {
    match REGISTRY.render(template, data) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template, error = %e, "an admin page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head>\
                     <body><h1>Sorry, this page failed</h1><p>The error is in the server log.</p></body></html>"
                        .to_string(),
                ),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_escapes() {
        register();
        for (name, source) in TEMPLATES {
            assert!(
                !source.contains("{{{") && !source.contains("{{&"),
                "{name} must not use unescaped output"
            );
            let inline_handler = source.split(" on").skip(1).any(|rest| {
                let event = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                event > 0 && rest[event..].starts_with('=')
            });
            assert!(
                !source.contains("<script") && !source.contains(" style=") && !inline_handler,
                "{name}: no inline script, style or event handler (the pages' CSP forbids them)"
            );
        }
    }
}
